# What every Python process of the run does at start: opens its files, says
# who it is, names its threads, follows its forks, hands its output over,
# and arranges for each multiprocessing module to be patched when the
# program first imports it (a program that never imports multiprocessing
# pays almost nothing).

import atexit
import os
import sys
import threading

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff
from _mpdash_probe import output

# (The multiprocessing module, the probe's module that patches it, how.)
PATCHES = [
    ("multiprocessing.process", "processes", "patch_process"),
    ("multiprocessing.popen_fork", "processes", "patch_poll"),
    ("multiprocessing.popen_forkserver", "processes", "patch_poll"),
    ("multiprocessing.queues", "queues", "patch_queues"),
    ("multiprocessing.synchronize", "locks", "patch_synchronize"),
    ("multiprocessing.connection", "connections", "patch_connection"),
    ("multiprocessing.sharedctypes", "shared", "patch_sharedctypes"),
    ("multiprocessing.managers", "managers", "patch_managers"),
    ("multiprocessing.pool", "pools", "patch_pool"),
    ("concurrent.futures.process", "pools", "patch_executor"),
    ("concurrent.futures._base", "pools", "patch_futures"),
]


def cmdline():
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def own_cpu():
    # The process's own CPU time at its exit: the kernel's count that
    # mpdash reaps includes every child Python reaped itself.
    if core.mm is not None:
        import time
        core.emit({"t": "cpu", "pid": os.getpid(), "cpu_s": time.process_time()})


bootstrap_inner = threading.Thread._bootstrap_inner


def _bootstrap_inner(self):
    # Threads by Python's names (a Queue's feeder thread, a Pool's handler
    # threads), said once each when they start.
    if not core.is_off:
        try:
            core.emit({"t": "thread", "tid": threading.get_native_id(), "name": self.name,
                       "ident": core.ident() & ff.IDENT_MASK, "cls": type(self).__name__})
        except Exception:
            pass
    return bootstrap_inner(self)


def after_fork():
    # (Run inside os.fork: the frame above is the one that called it.)
    caller = sys._getframe(1)
    parent, n = core.name, core.forks + 1
    core.forked()
    # (Its own forks are numbered from 1, not after its parent's.)
    core.forks = 0
    output.try_own_output()
    if not core.is_off:
        processes = core.ours_imported("processes")
        if processes.bare_fork(caller):
            processes.forked_bare_s(parent, n)


def after_fork_parent():
    if not core.is_off and core.ours_imported("processes").bare_fork(sys._getframe(1)):
        core.forks += 1


def start():
    # False when this process is not one of a probed run's.
    if not core.directory or not os.path.isdir(core.directory):
        return False
    sys.meta_path.insert(0, core.AfterImport())
    core.open_files()
    cmd = cmdline()
    announce = None
    if "resource_tracker" in cmd:
        announce = ("resource tracker", "resource tracker")
    elif "multiprocessing.forkserver" in cmd:
        announce = ("fork server", "fork server")
    elif "spawn_main" not in cmd:
        announce = ("MainProcess", "main")
    if announce is not None:
        core.ours_imported("processes").announce_s(*announce)
    for name, module, fn in PATCHES:
        core.when_imported(name, core.patch_with(module, fn))
    atexit.register(core.safely(own_cpu))
    output.try_own_output()
    threading.Thread._bootstrap_inner = _bootstrap_inner
    os.register_at_fork(after_in_child=after_fork, after_in_parent=after_fork_parent)
    core.ours_imported("processes").patch_waits()
    return True
