"""Process: the multiprocessing docs' first example, info() and f('bob').

The main process prints its module name, its parent's pid and its own; then
it starts a child Process that runs f('bob'), which prints the same three
lines from inside the child (its parent is the main process) and says hello.
The child holds for a few seconds so you can watch the tree: the child's
PARENT is the main process, and Python's name for it is Process-1.

Usage: mpdash scenarios/python/process.py [-- SECONDS]
"""

import os
import sys
import time
from multiprocessing import Process

HOLD = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0


def info(title):
    print(title)
    print("module name:", __name__)
    print("parent process:", os.getppid())
    print("process id:", os.getpid())


def f(name):
    info("function f")
    time.sleep(HOLD)
    print("hello", name)


if __name__ == "__main__":
    info("main line")
    p = Process(target=f, args=("bob",))
    p.start()
    p.join()
