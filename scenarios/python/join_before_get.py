"""Joining a process before reading its queue: a hang the docs warn about.

The child puts a large item on a Queue. A process that put items on a
queue waits, before it ends, until its feeder thread has written them all
into the queue's pipe; the pipe holds 64 KiB and nobody reads it, because
the parent calls p.join() before queue.get(). Both wait forever. mpdash
names the child, the queue and the join's line.

The fix: get the items before join() (or join after draining the queue).
"""

import multiprocessing as mp


def f(q):
    q.put("X" * 1000000)


if __name__ == "__main__":
    queue = mp.Queue()
    p = mp.Process(target=f, args=(queue,))
    p.start()
    p.join()  # this deadlocks
    obj = queue.get()
