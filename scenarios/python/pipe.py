"""Pipe: two connected ends, then thousands of round trips.

First the docs' example: a child sends [42, None, 'hello'] through its end of
a Pipe and the main process receives it. Then a child echoes every message
the main process sends: the Pipe's line counts the messages and bytes each
end has sent, and a process blocked in recv shows in WAITING ON.

Usage: mpdash scenarios/python/pipe.py [-- ROUND_TRIPS]
"""

import sys
from multiprocessing import Pipe, Process

TRIPS = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000


def f(conn):
    conn.send([42, None, "hello"])
    conn.close()


def echo(conn):
    while True:
        m = conn.recv()
        if m is None:
            break
        conn.send(m)


if __name__ == "__main__":
    parent_conn, child_conn = Pipe()
    p = Process(target=f, args=(child_conn,))
    p.start()
    print(parent_conn.recv())
    p.join()

    here, there = Pipe()
    p = Process(target=echo, args=(there,), name="echo")
    p.start()
    for i in range(TRIPS):
        here.send(i)
        assert here.recv() == i
    here.send(None)
    p.join()
    print("round trips", TRIPS)
