"""A consumer gets from a Manager queue nobody puts to: stuck, and the wait
is placed at the program's own line (not the proxy's generated code)."""
import multiprocessing as mp


def consume(q):
    print(q.get())  # nobody puts


if __name__ == "__main__":
    with mp.Manager() as m:
        q = m.Queue()
        p = mp.Process(target=consume, args=(q,))
        p.start()
        p.join()
