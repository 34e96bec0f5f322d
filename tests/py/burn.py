"""A Pool(2) burning one second of CPU per task, four tasks: each worker's CPU
is its own, and the main process's is not their sum."""
import multiprocessing as mp, time
def burn(n):
    t = time.process_time()
    while time.process_time() - t < 1.0:
        pass
    return n
if __name__ == "__main__":
    p = mp.Pool(2)
    print(p.map(burn, range(4)))
    # close and join: the workers end by themselves and say their CPU
    # (terminate(), what `with Pool()` does, SIGTERMs them first).
    p.close()
    p.join()
