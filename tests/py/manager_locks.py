"""Two processes take two Manager locks in opposite orders; a Barrier makes
sure each holds its first lock before asking for the second: a deadlock,
every time."""
import multiprocessing as mp


def a(red, blue, both):
    with red:
        both.wait()
        with blue:  # never: b holds it
            print("a holds both", flush=True)


def b(red, blue, both):
    with blue:
        both.wait()
        with red:  # never: a holds it
            print("b holds both", flush=True)


if __name__ == "__main__":
    with mp.Manager() as m:
        red = m.Lock()
        blue = m.Lock()
        both = m.Barrier(2)
        pa = mp.Process(target=a, args=(red, blue, both), name="taker a")
        pb = mp.Process(target=b, args=(red, blue, both), name="taker b")
        pa.start()
        pb.start()
        print("both started", flush=True)
        pa.join()
        pb.join()
