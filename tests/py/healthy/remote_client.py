"""A client outside the program's tree: puts three items, 1.5 s apart, on
the remote manager's queue at 127.0.0.1:PORT (PORT read from argv[1]'s file)."""
import sys
import time
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


QueueManager.register("get_jobs")

port = int(open(sys.argv[1]).read())
m = QueueManager(address=("127.0.0.1", port), authkey=b"remote")
m.connect()
q = m.get_jobs()
for i in range(3):
    time.sleep(1.5)
    q.put(i)
