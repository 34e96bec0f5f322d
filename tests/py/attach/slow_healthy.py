"""Slow but healthy: a producer puts an item every 1.5 s, a consumer gets
them; the parent joins both. Three processes, long quiet waits, never stuck."""
import multiprocessing as mp
import sys
import time

N = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def producer(q):
    for i in range(N):
        time.sleep(1.5)
        q.put(i)
    q.put(None)


def consumer(q):
    while True:
        item = q.get()
        if item is None:
            break
        print("got", item, flush=True)


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    q = mp.Queue()
    ps = [mp.Process(target=producer, args=(q,)), mp.Process(target=consumer, args=(q,))]
    for p in ps:
        p.start()
    print("started", flush=True)
    for p in ps:
        p.join()
