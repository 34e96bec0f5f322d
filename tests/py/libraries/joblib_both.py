"""joblib's Parallel with both process backends (loky, multiprocessing)."""
import sys

from joblib import Parallel, delayed


def square(x):
    return x * x


if __name__ == "__main__":
    for backend in ("loky", "multiprocessing"):
        out = Parallel(n_jobs=2, backend=backend)(delayed(square)(i) for i in range(20))
        print(backend, sum(out), flush=True)
