"""A Pool worker is killed mid-task: Pool.map waits forever (cpython#96062).

One task kills its own worker with SIGKILL, as the kernel's OOM killer
would. CPython's Pool starts a new worker, but the task that died with the
old one is never run again, and map() never returns: the program hangs
without a word. mpdash names the worker, the signal and the task instead.

The fix: concurrent.futures.ProcessPoolExecutor raises BrokenProcessPool
when a worker dies; or give the result a timeout (map_async(...).get(t)).
"""

import os
import signal
import time
from multiprocessing import Pool


def work(x):
    if x == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return x * x


if __name__ == "__main__":
    with Pool(2) as pool:
        print(sum(pool.map(work, range(40), chunksize=2)))
