"""Every kind of object the probe follows, under the start method given.

Usage: python3 everything.py METHOD
"""

import concurrent.futures as cf
import multiprocessing as mp
import sys


def child(conn, num, arr, d, cond, sem, ev):
    for i in range(5):
        conn.send(("ping", i))
        assert conn.recv() == i
    num.value = 2.5
    for i in range(len(arr)):
        arr[i] = -arr[i]
    d["child"] = 1
    d["more"] = 2
    with sem:
        pass
    ev.set()
    with cond:
        cond.notify_all()


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    parent_conn, child_conn = ctx.Pipe()
    num = ctx.Value("d", 0.0)
    arr = ctx.Array("i", range(6))
    cond = ctx.Condition()
    sem = ctx.Semaphore(2)
    ev = ctx.Event()
    sq = ctx.SimpleQueue()
    with ctx.Manager() as manager:
        d = manager.dict()
        p = ctx.Process(target=child, args=(child_conn, num, arr, d, cond, sem, ev), name="child")
        p.start()
        for i in range(5):
            m = parent_conn.recv()
            parent_conn.send(m[1])
        ev.wait()
        p.join()
        print(num.value, arr[:], len(d))
    for i in range(7):
        sq.put(i)
    print(sum(sq.get() for _ in range(7)))
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as executor:
        futs = [executor.submit(square, i) for i in range(12)]
        print(sum(f.result() for f in futs))
    with ctx.Pool(2) as pool:
        print(sum(pool.map(square, range(30), chunksize=3)))
    print("exit", p.exitcode)
