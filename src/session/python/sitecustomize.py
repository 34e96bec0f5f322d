# mpdash's probe: installed for one run only, in a private directory put
# first on PYTHONPATH (it imports any other sitecustomize after itself), so
# every Python process of the run -- forked, spawned, or forked by a fork
# server -- reports what its multiprocessing objects do. The probe itself
# is the package _mpdash_probe beside this file; a probe failure never
# breaks the program: the probe turns itself off and says so once.
#
# Standard library only; CPython 3.8 and later.

import os
import sys


def _mpdash_start():
    if not os.environ.get("MPDASH_PROBE_DIR"):
        return
    # The probe's own bytecode is cached in the run's directory even under
    # PYTHONDONTWRITEBYTECODE (only this thread runs yet); the standard
    # library's modules it needs are imported first, as the program would.
    import mmap  # noqa: F401
    import threading  # noqa: F401
    flag = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from _mpdash_probe import start
    finally:
        sys.dont_write_bytecode = flag
    start.start()


try:
    _mpdash_start()
except Exception as _mpdash_error:  # never break the program
    try:
        sys.stderr.write("mpdash probe: off (%s: %s)\n" % (type(_mpdash_error).__name__, _mpdash_error))
    except Exception:
        pass


def _mpdash_chain():
    # Any other sitecustomize on the path runs too, as if we were not here.
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_mpdash_chain()
