"""Objects made two to a line are named by their own variables, and an
unbounded queue has no maxsize (null), a bounded one its own."""
import multiprocessing as mp

if __name__ == "__main__":
    a, b = mp.Lock(), mp.Lock()
    (q1, q2) = mp.Queue(), mp.Queue(maxsize=3)
    with a:
        q2.put(1)
    print(q2.get())
