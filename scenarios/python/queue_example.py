"""Queue: [42, None, 'hello'], then producers and consumers on a bounded queue.

First a child puts [42, None, 'hello'] on a Queue and the main process gets
it. Then 2 producers put 150 items each, every 10 ms, on a Queue of maxsize
32, while 2 consumers take one every 25 ms: the depth (puts minus gets,
counted by the probe where the program calls them) climbs until the queue
is full and the producers block in put (WAITING ON says so, with the line),
then drains when they are done.

Usage: mpdash scenarios/python/queue_example.py [-- ITEMS]
"""

import sys
import time
from multiprocessing import Process, Queue

ITEMS = int(sys.argv[1]) if len(sys.argv) > 1 else 150


def f(q):
    q.put([42, None, "hello"])


def producer(work, n):
    for i in range(n):
        work.put(i)
        time.sleep(0.01)


def consumer(work, n):
    for _ in range(n):
        work.get()
        time.sleep(0.025)


if __name__ == "__main__":
    q = Queue()
    p = Process(target=f, args=(q,))
    p.start()
    print(q.get())
    p.join()

    work = Queue(maxsize=32)
    producers = [Process(target=producer, args=(work, ITEMS), name="producer %d" % i) for i in range(2)]
    consumers = [Process(target=consumer, args=(work, ITEMS), name="consumer %d" % i) for i in range(2)]
    for w in producers + consumers:
        w.start()
    for w in producers + consumers:
        w.join()
    print("moved", 2 * ITEMS)
