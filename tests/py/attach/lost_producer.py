"""A consumer waits for an item its producer never put: the producer exited
without putting. The parent joins the consumer."""
import multiprocessing as mp
import sys


def producer(q):
    return  # forgot to put


def consumer(q):
    item = q.get()  # nobody will ever put
    print("got", item)


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    q = mp.Queue()
    prod = mp.Process(target=producer, args=(q,))
    cons = mp.Process(target=consumer, args=(q,))
    prod.start()
    cons.start()
    prod.join()
    print("producer done", flush=True)
    cons.join()
