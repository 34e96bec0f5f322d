"""An Event set by a threading.Timer, waited on in main and in a child."""
import multiprocessing as mp
import threading


def wait_for(ev):
    ev.wait()
    print("child saw the event", flush=True)


if __name__ == "__main__":
    ev = mp.Event()
    child = mp.Process(target=wait_for, args=(ev,))
    child.start()
    threading.Timer(2.5, ev.set).start()
    ev.wait()
    print("main saw the event", flush=True)
    child.join()
    print("done", child.exitcode)
