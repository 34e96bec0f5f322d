"""A JoinableQueue handed to two spawn (or forkserver) children: 40 items and
one sentinel per consumer, every item marked done, the parent joins the
queue. The start method is the first argument."""
import multiprocessing as mp
import sys


def consume(q, total):
    n = 0
    while (item := q.get()) is not None:
        n += item
        q.task_done()
    q.task_done()
    with total.get_lock():
        total.value += n


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    q = ctx.JoinableQueue()
    total = ctx.Value("i", 0)
    workers = [ctx.Process(target=consume, args=(q, total)) for _ in range(2)]
    for w in workers:
        w.start()
    for i in range(40):
        q.put(i)
    for _ in workers:
        q.put(None)
    q.join()
    for w in workers:
        w.join()
    print("sum", total.value, "exits", [w.exitcode for w in workers])
