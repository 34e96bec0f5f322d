"""Two processes take two locks in opposite orders with bare acquire() calls
(the C method: no Python frame of its own), meeting at a Barrier while each
holds its first lock, so the deadlock happens every time."""
import multiprocessing as mp
import sys


def forward(a, b, met):
    a.acquire()
    met.wait()
    b.acquire()  # waits for b, held by backward
    b.release()
    a.release()


def backward(a, b, met):
    b.acquire()
    met.wait()
    a.acquire()  # waits for a, held by forward
    a.release()
    b.release()


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    a, b = mp.Lock(), mp.Lock()
    met = mp.Barrier(2)
    ps = [mp.Process(target=forward, args=(a, b, met)),
          mp.Process(target=backward, args=(a, b, met))]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
