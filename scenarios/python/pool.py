"""Pool: map a function over many items on worker processes, no GIL.

First the docs' example: p.map(f, [1, 2, 3]) on a Pool of 5 prints [1, 4, 9].
Then a Pool of one worker per core maps a CPU-bound function over 64 items:
the Pool panel shows the tasks (map cuts the items into chunks, one task
each), which worker runs which task, and how many each finished; every
worker's CPU reaches 100 % at once, because each is a process with its own
interpreter and its own GIL.

Usage: mpdash scenarios/python/pool.py [-- ITEMS [WORK]]
"""

import os
import sys
from multiprocessing import Pool

ITEMS = int(sys.argv[1]) if len(sys.argv) > 1 else 64
WORK = int(sys.argv[2]) if len(sys.argv) > 2 else 600_000


def f(x):
    return x * x


def busy(x):
    total = 0
    for i in range(WORK):
        total += (i * x) % 7
    return total


if __name__ == "__main__":
    with Pool(5) as p:
        print(p.map(f, [1, 2, 3]))
    with Pool(os.cpu_count()) as pool:
        print("sum", sum(pool.map(busy, range(ITEMS))))
