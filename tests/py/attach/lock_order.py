"""Two processes take two locks in opposite orders: each holds one and waits
for the other forever (a lock-order deadlock). The parent joins them."""
import multiprocessing as mp
import sys
import time


def forward(a, b):
    with a:
        time.sleep(0.5)
        with b:  # waits for b, held by backward
            pass


def backward(a, b):
    with b:
        time.sleep(0.5)
        with a:  # waits for a, held by forward
            pass


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    a, b = mp.Lock(), mp.Lock()
    ps = [mp.Process(target=forward, args=(a, b)), mp.Process(target=backward, args=(a, b))]
    for p in ps:
        p.start()
    print("started", flush=True)
    for p in ps:
        p.join()
