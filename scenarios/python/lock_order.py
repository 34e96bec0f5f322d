"""Two locks taken in opposite orders: CPython hangs here forever, without a word.

`mpdash scenarios/python/lock_order.py` says who holds what, who waits
for what, and at which lines.

The fix: take locks in one global order everywhere (both take `one`, then
`two`).
"""

import multiprocessing as mp


def a(one, two, both_hold_one):
    with one:
        both_hold_one.wait()  # (so the hang happens every time)
        with two:
            print("a got both")


def b(one, two, both_hold_one):
    with two:
        both_hold_one.wait()
        with one:
            print("b got both")


if __name__ == "__main__":
    one = mp.Lock()
    two = mp.Lock()
    both_hold_one = mp.Barrier(2)
    pa = mp.Process(target=a, args=(one, two, both_hold_one), name="taker a")
    pb = mp.Process(target=b, args=(one, two, both_hold_one), name="taker b")
    pa.start()
    pb.start()
    print("both started")
    pa.join()
    pb.join()
