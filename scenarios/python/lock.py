"""Lock: ten processes print in turn, then four fight over one lock.

First the docs' example: 10 processes each take the Lock to print "hello
world" and their number, so lines never interleave. Then 4 processes each
take the lock 200 times and hold it 5 ms: the Lock's line names the holder
and the line where it took the lock, how long it has held it, and how many
wait; the others show "acquire lock (held by ...)" in WAITING ON.

Usage: mpdash scenarios/python/lock.py [-- TIMES]
"""

import sys
import time
from multiprocessing import Lock, Process

TIMES = int(sys.argv[1]) if len(sys.argv) > 1 else 200


def f(l, i):
    l.acquire()
    try:
        print("hello world", i)
    finally:
        l.release()


def fight(lock, n):
    for _ in range(n):
        with lock:
            time.sleep(0.005)


if __name__ == "__main__":
    lock = Lock()
    for num in range(10):
        Process(target=f, args=(lock, num)).start()
    time.sleep(0.5)
    ps = [Process(target=fight, args=(lock, TIMES), name="fighter %d" % i) for i in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("acquired", 4 * TIMES, "times")
