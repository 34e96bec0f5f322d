"""Manager: a server process holds a dict and a list; proxies call it.

The docs' example: a Manager starts its server process; a child changes a
managed dict and list through proxies, and the main process prints them. Then
4 workers each make 500 calls on the dict: the Manager's line names the
server's pid, the clients and the calls per method (every call is a round
trip through a socket to the server).

Usage: mpdash scenarios/python/manager.py [-- CALLS]
"""

import sys
from multiprocessing import Manager, Process

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 500


def f(d, l):
    d[1] = "1"
    d["2"] = 2
    d[0.25] = None
    l.reverse()


def worker(d, i, n):
    for k in range(n):
        d["w%d" % i] = k


if __name__ == "__main__":
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(10))
        p = Process(target=f, args=(d, l))
        p.start()
        p.join()
        print(d)
        print(l)
        ps = [Process(target=worker, args=(d, i, CALLS), name="worker %d" % i) for i in range(4)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        print(len(d), "keys")
