"""A consumer that never calls task_done(): the parent's q.join() waits for
ever, while the consumer waits for more items."""
import multiprocessing as mp


def consume(q):
    while True:
        print("got", q.get(), flush=True)


if __name__ == "__main__":
    q = mp.JoinableQueue()
    child = mp.Process(target=consume, args=(q,), daemon=True)
    child.start()
    for i in range(3):
        q.put(i)
    q.join()
    print("never printed")
