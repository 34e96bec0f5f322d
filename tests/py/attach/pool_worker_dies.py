"""A pool worker dies (os._exit) in the middle of a task: Pool.map waits
for that task's result forever (CPython replaces the worker, not the task)."""
import multiprocessing as mp
import os
import sys


def work(x):
    if x == 3:
        os._exit(1)
    return x * x


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    with mp.Pool(2) as p:
        print(p.map(work, range(8)))  # waits for task 3 forever
