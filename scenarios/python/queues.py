"""Producers and a consumer on one Queue, under each start method.

Watch the queue's depth, the lock around the shared total, the processes by
their names (and the resource tracker and the fork server Python starts).

Usage: mpdash scenarios/python/queues.py [-- COUNT]
"""

import multiprocessing as mp
import sys
import time


def produce(q, lock, total, n):
    for i in range(n):
        q.put(i)
        with lock:
            total.value += i
        time.sleep(0.002)


def consume(q, n, out):
    got = 0
    for _ in range(n):
        got += q.get()
    out.put(got)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for method in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(method)
        work = ctx.Queue(maxsize=16)
        results = ctx.Queue()
        lock = ctx.Lock()
        total = ctx.Value("q", 0, lock=False)
        producers = [
            ctx.Process(target=produce, args=(work, lock, total, n), name="producer %d" % i)
            for i in range(2)
        ]
        consumer = ctx.Process(target=consume, args=(work, 2 * n, results), name="consumer")
        for p in producers + [consumer]:
            p.start()
        got = results.get()
        for p in producers + [consumer]:
            p.join()
        print("%s: consumed %d, produced %d" % (method, got, total.value))
