"""A thread of the main process feeds a child slowly; the main thread joins
the child. Healthy: the producer thread is alive and will put again."""
import multiprocessing as mp
import threading
import time


def consume(q):
    while (item := q.get()) is not None:
        print("got", item, flush=True)


def produce(q):
    for i in range(3):
        time.sleep(1.5)
        q.put(i)
    q.put(None)


if __name__ == "__main__":
    q = mp.Queue()
    child = mp.Process(target=consume, args=(q,))
    child.start()
    threading.Thread(target=produce, args=(q,), name="producer").start()
    child.join()
    print("done", child.exitcode)
