"""Slow but healthy: a Pool(2) whose tasks each sleep 2 s; the main process
waits in map the whole time, the pool's own threads loop. Never stuck."""
import multiprocessing as mp
import sys
import time


def slow(x):
    time.sleep(2)
    return x


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    with mp.Pool(2) as p:
        print(p.map(slow, range(8)), flush=True)  # 8 s in all
