"""A child that ends with sys.exit(True): Python exits it with status 1.

The probe wrote `"code": true` in the child's end record and mpdash's
reader, which wants an int, dropped the record.
"""
import multiprocessing as mp
import sys
import time


def leave(code):
    time.sleep(0.05)
    sys.exit(code)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "fork"
    mp.set_start_method(method)
    for name, code in (("true", True), ("false", False), ("none", None), ("seven", 7)):
        p = mp.Process(target=leave, args=(code,), name=name)
        p.start()
        p.join()
        print(name, p.exitcode)
