"""Two spawn children take two locks in opposite orders (a Barrier makes it
happen every time). Under spawn the locks are named semaphores in /dev/shm
until the resource tracker unlinks them: the program prints their names."""
import multiprocessing as mp


def take(a, b, met):
    with a:
        met.wait()
        with b:
            pass


if __name__ == "__main__":
    mp.set_start_method("spawn")
    a, b = mp.Lock(), mp.Lock()
    met = mp.Barrier(2)
    print("semaphores", a._semlock.name, b._semlock.name, flush=True)
    ps = [mp.Process(target=take, args=(a, b, met)),
          mp.Process(target=take, args=(b, a, met))]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
