"""A Lock held by main and released by a timer thread; a child waits for it."""
import multiprocessing as mp
import threading


def take(lock):
    with lock:
        print("child took the lock", flush=True)


if __name__ == "__main__":
    lock = mp.Lock()
    lock.acquire()
    child = mp.Process(target=take, args=(lock,))
    child.start()
    threading.Timer(2.5, lock.release).start()
    child.join()
    print("done", child.exitcode)
