"""Checks one interpreter for scripts/pythons; says what is wrong and exits 1.

Usage: PYTHON pythons-selftest.py MAJOR.MINOR [--root DIR] [--quick]

Always: the version is MAJOR.MINOR, and ctypes (a call into libc), ssl (a
default context), _multiprocessing and json work, with the other extension
modules that need a library of their own (hashlib, zlib, lzma, bz2, decimal,
sqlite3, pyexpat). With --root: every shared object mapped into the
process comes from DIR (the interpreter's own glibc and libraries, never the
machine's). Without --quick, also multiprocessing under fork, spawn and
forkserver: a Pool(2).map, and a Queue across a child that runs the same
checks (so a spawned interpreter is the same one, with the same libraries).
"""

import os
import re
import sys


def fail(what):
    print(f"{sys.executable}: {what}", file=sys.stderr)
    sys.exit(1)


def foreign_libraries(root):
    """Shared objects mapped from outside `root` (all of them when None)."""
    if root is None:
        return []
    prefix = os.path.realpath(root) + os.sep
    found = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            path = parts[5].strip()
            if path.startswith("/") and re.search(r"\.so(\.|$)", path):
                if not os.path.realpath(path).startswith(prefix):
                    found.add(path)
    return sorted(found)


def check_modules():
    """Imports what must work; returns (sys.version, sys.prefix, foreign libraries)."""
    import ctypes
    import json
    import ssl
    import _multiprocessing  # noqa: F401

    for name in ("hashlib", "zlib", "lzma", "bz2", "decimal", "sqlite3", "pyexpat"):
        __import__(name)
    if ctypes.CDLL(None).getpid() != os.getpid():
        raise RuntimeError("ctypes: libc's getpid() is not os.getpid()")
    ssl.create_default_context()
    if json.loads(json.dumps({"a": [1, 2.5, None]})) != {"a": [1, 2.5, None]}:
        raise RuntimeError("json does not round-trip")
    return sys.version, sys.prefix


def square(x):
    return x * x


def report(queue, root):
    try:
        version, prefix = check_modules()
        queue.put((version, prefix, sys.executable, foreign_libraries(root), None))
    except BaseException as e:  # the parent says what went wrong
        queue.put((None, None, sys.executable, [], repr(e)))


def main():
    args = sys.argv[1:]
    if not args:
        fail("usage: pythons-selftest.py MAJOR.MINOR [--root DIR] [--quick]")
    want = args[0]
    quick = "--quick" in args
    root = args[args.index("--root") + 1] if "--root" in args else None
    got = "%d.%d" % sys.version_info[:2]
    if got != want:
        fail(f"is Python {got} ({sys.version.split()[0]}), not {want}")
    try:
        version, prefix = check_modules()
    except BaseException as e:
        fail(f"import check failed: {e!r}")
    leaked = foreign_libraries(root)
    if leaked:
        fail(f"libraries from outside {root}: {', '.join(leaked)}")
    if quick:
        return
    import multiprocessing as mp

    for method in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(method)
        try:
            with ctx.Pool(2) as pool:
                got = pool.map(square, range(20), chunksize=3)
        except BaseException as e:
            fail(f"{method}: Pool(2).map failed: {e!r}")
        if got != [x * x for x in range(20)]:
            fail(f"{method}: Pool(2).map gave {got}")
        q = ctx.Queue()
        p = ctx.Process(target=report, args=(q, root))
        p.start()
        try:
            seen = q.get(timeout=120)
        except BaseException as e:
            p.kill()
            fail(f"{method}: nothing came through the Queue from the child: {e!r}")
        p.join(120)
        if p.exitcode != 0:
            fail(f"{method}: the child exited with {p.exitcode}")
        c_version, c_prefix, c_exe, c_leaked, error = seen
        if error is not None:
            fail(f"{method}: in the child ({c_exe}): {error}")
        if (c_version, c_prefix) != (version, prefix):
            fail(
                f"{method}: the child ({c_exe}) runs Python {c_version!r} in "
                f"{c_prefix}, not {version!r} in {prefix}"
            )
        if c_leaked:
            fail(f"{method}: the child maps libraries from outside {root}: {c_leaked}")


if __name__ == "__main__":
    main()
