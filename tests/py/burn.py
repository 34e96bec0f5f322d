"""A Pool(2) burning one second of CPU per task, four tasks: each worker's CPU
is its own, and the main process's is not their sum."""
import multiprocessing as mp, time
def burn(n):
    t = time.process_time()
    while time.process_time() - t < 1.0:
        pass
    return n
if __name__ == "__main__":
    with mp.Pool(2) as p:
        print(p.map(burn, range(4)))
