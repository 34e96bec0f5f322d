"""Two locks taken in opposite orders: CPython hangs here forever, without a word.

`mpdash scenarios/python/lock_order.py` says who holds what, who waits
for what, and at which lines.

The fix: take locks in one global order everywhere (both take `one`, then
`two`).
"""

import multiprocessing as mp
import time


def a(one, two):
    with one:
        time.sleep(0.3)
        with two:
            print("a got both")


def b(one, two):
    with two:
        time.sleep(0.3)
        with one:
            print("b got both")


if __name__ == "__main__":
    one = mp.Lock()
    two = mp.Lock()
    pa = mp.Process(target=a, args=(one, two), name="taker a")
    pb = mp.Process(target=b, args=(one, two), name="taker b")
    pa.start()
    pb.start()
    print("both started")
    pa.join()
    pb.join()
