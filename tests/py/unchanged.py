"""What a program sees of its own output is what it sees without mpdash: a
subprocess's captured output, text that looks like a tag, the type of
sys.stdout, a child's lines, stderr, and a file dup2'ed onto fd 1 (its path
is the first argument)."""
import multiprocessing as mp
import os
import subprocess
import sys


def child():
    print("from the child", flush=True)


if __name__ == "__main__":
    n = int(subprocess.check_output([sys.executable, "-c", "print(6*7)"]))
    print("captured", n, flush=True)
    print("\x1e123\x1e kept as printed", flush=True)
    print("stdout is", type(sys.stdout).__name__, isinstance(sys.stdout, __import__("io").TextIOBase), flush=True)
    p = mp.Process(target=child)
    p.start()
    p.join()
    print("to stderr", file=sys.stderr, flush=True)
    with open(sys.argv[1], "w") as f:
        os.dup2(f.fileno(), 1)
        print("into the log", flush=True)
