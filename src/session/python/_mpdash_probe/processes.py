# Processes: each child says who it is when it starts (its Python name, its
# role, its start method) and how it ended (its status and its CPU); a
# join is a wait; the exit statuses a Python parent reaps itself are said.

import os
import time

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff


def announce(name, role, method=None):
    core.emit({"t": "proc", "pid": os.getpid(), "ppid": os.getppid(), "name": name,
               "role": role, "method": method, "t0": time.monotonic_ns()})


announce_s = core.safely(announce)


def role_of(p):
    target = getattr(p, "_target", None)
    tname = getattr(target, "__name__", "")
    tmod = getattr(target, "__module__", "") or ""
    if tname == "_run_server" or "Manager" in p.name:
        return "manager"
    if tmod == "multiprocessing.pool" or "PoolWorker" in p.name:
        return "pool worker"
    if tmod.startswith("concurrent.futures"):
        return "executor worker"
    return "process"


def patch_process(mp_process):
    original_bootstrap = mp_process.BaseProcess._bootstrap

    def _bootstrap(self, *args, **kw):
        # (A forked child's files were reset by the fork handler; a spawned
        # child opened its own at start.)
        method = None
        try:
            import multiprocessing
            method = self._start_method or multiprocessing.get_start_method(allow_none=True)
        except Exception:
            pass
        announce_s(self.name, role_of(self), method)
        code = original_bootstrap(self, *args, **kw)
        # How it ended and the CPU it used (the kernel's count), said once:
        # a process too short for the dashboard to see still has its row.
        # (`sys.exit(True)` returns True here: the process exits with 1.)
        core.emit_s({"t": "end", "pid": os.getpid(), "code": ff.exit_code(code),
                     "cpu_s": time.process_time()})
        return code

    mp_process.BaseProcess._bootstrap = _bootstrap

    original_join = mp_process.BaseProcess.join

    def join(self, timeout=None):
        at = core.wait_begin_s(ff.JOIN, None, target=self.pid or 0, timeout=timeout)
        try:
            return original_join(self, timeout)
        finally:
            core.wait_end(at)

    mp_process.BaseProcess.join = join


def patch_poll(module):
    # Exit statuses a Python parent reaps itself (a pool's workers, joined
    # children): said once, as Python reports them (-9 for SIGKILL).
    cls = module.Popen
    poll = cls.__dict__["poll"]

    def poll_(self, *args, **kw):
        rc = poll(self, *args, **kw)
        if rc is not None and not self.__dict__.get("_mpdash_told"):
            self._mpdash_told = True
            core.emit_s({"t": "exit", "pid": self.pid, "code": rc})
        return rc

    cls.poll = poll_
