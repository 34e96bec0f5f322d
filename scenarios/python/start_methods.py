"""Start methods: the same children under fork, spawn and forkserver.

Each method starts 4 children that hold for a moment; the METHOD column says
how each was started. fork copies the parent (fast); spawn starts a fresh
interpreter that imports the program (slow, safe); forkserver asks a server
process, started once, to fork (its children's OS parent is the fork server,
their Python parent is the main process). The times printed are how long
each method took to start its children.

Usage: mpdash scenarios/python/start_methods.py [-- SECONDS]
"""

import multiprocessing as mp
import sys
import time

HOLD = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def hold(seconds):
    time.sleep(seconds)


if __name__ == "__main__":
    for method in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(method)
        t0 = time.perf_counter()
        ps = [ctx.Process(target=hold, args=(HOLD,), name="%s child %d" % (method, i)) for i in range(4)]
        for p in ps:
            p.start()
        started = time.perf_counter() - t0
        for p in ps:
            p.join()
        print("%-10s started 4 children in %.1f ms" % (method, started * 1e3))
