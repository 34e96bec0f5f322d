# mpdash bench probe: one CPython figure per run, printed as a JSON line.
# Run with and without mpdash's probe (the same file, the same interpreter).
import json
import multiprocessing as mp
import sys
import time


def produce(q, n):
    for i in range(n):
        q.put(i)
    q.put(None)


def ident(x):
    return x


def queue_1to1(n):
    q = mp.Queue()
    p = mp.Process(target=produce, args=(q, n))
    t0 = time.perf_counter()
    p.start()
    got = 0
    while q.get() is not None:
        got += 1
    t = time.perf_counter() - t0
    p.join()
    assert got == n
    return n / t


def pool_map(n):
    with mp.Pool(2) as pool:
        pool.map(ident, range(100))
        t0 = time.perf_counter()
        r = pool.map(ident, range(n))
        t = time.perf_counter() - t0
    assert len(r) == n
    return n / t


def lock(n):
    lk = mp.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        with lk:
            pass
    return (time.perf_counter() - t0) / n * 1e9


def end(n):
    # A short program with a pool (its workers, the resource tracker): the
    # figure is when it ended, on CLOCK_MONOTONIC; the bench takes the time
    # `mpdash run --headless` exits.
    with mp.Pool(2) as pool:
        pool.map(ident, range(n))
    return time.monotonic_ns()


if __name__ == "__main__":
    mp.set_start_method("fork")
    what, n = sys.argv[1], int(sys.argv[2])
    fn = {"queue": queue_1to1, "pool_map": pool_map, "lock": lock, "end": end}[what]
    print(json.dumps({"what": what, "value": fn(n)}))
