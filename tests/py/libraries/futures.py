"""concurrent.futures: a ProcessPoolExecutor's map and submit."""
from concurrent.futures import ProcessPoolExecutor, as_completed


def cube(x):
    return x ** 3


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2) as ex:
        print("map", sum(ex.map(cube, range(30))), flush=True)
        futures = [ex.submit(cube, i) for i in range(12)]
        print("submit", sum(f.result() for f in as_completed(futures)), flush=True)
