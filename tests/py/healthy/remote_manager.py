"""The docs' remote-manager pattern: a BaseManager serves a queue on TCP;
a consumer of the program gets from it through a proxy, while a client
outside the program's tree (started by whoever runs this) puts every
1.5 s. Waiting on a manager that outside clients can reach is no hang."""
import multiprocessing as mp
import queue
import sys
from multiprocessing.managers import BaseManager

jobs = queue.Queue()


def get_jobs():
    return jobs


class QueueManager(BaseManager):
    pass


QueueManager.register("get_jobs", callable=get_jobs)


def consume(address, key):
    m = QueueManager(address=address, authkey=key)
    m.connect()
    q = m.get_jobs()
    for _ in range(3):
        print("got", q.get(), flush=True)


if __name__ == "__main__":
    mp.set_start_method("fork")
    m = QueueManager(address=("127.0.0.1", 0), authkey=b"remote")
    m.start()
    # Where outside clients connect (written once the server listens).
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(m.address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    c = mp.Process(target=consume, args=(m.address, b"remote"))
    c.start()
    c.join()
    m.shutdown()
    print("done", c.exitcode, flush=True)
