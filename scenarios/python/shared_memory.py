"""Value and Array: shared memory between processes, read live.

First the docs' example: a child sets num.value to 3.1415927 and negates every
element of arr; the main process prints 3.1415927 and [0, -1, ... -9]. Then 4
processes each add 1 to a shared counter 200 000 times under its lock: the
Value's line shows the counter climbing to 800 000, read by mpdash from the
shared memory itself.

Usage: mpdash scenarios/python/shared_memory.py [-- ADDS]
"""

import sys
from multiprocessing import Array, Process, Value

ADDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def f(n, a):
    n.value = 3.1415927
    for i in range(len(a)):
        a[i] = -a[i]


def add(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


if __name__ == "__main__":
    num = Value("d", 0.0)
    arr = Array("i", range(10))
    p = Process(target=f, args=(num, arr))
    p.start()
    p.join()
    print(num.value)
    print(arr[:])

    counter = Value("i", 0)
    ps = [Process(target=add, args=(counter, ADDS), name="adder %d" % i) for i in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print("counter", counter.value)
