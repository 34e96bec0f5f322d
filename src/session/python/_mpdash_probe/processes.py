# Processes: each child says who it is when it starts (its Python name, its
# role, its start method) and how it ended (its status and its CPU); a
# join is a wait; the exit statuses a Python parent reaps itself are said.

import os
import time

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff


def announce(name, role, method=None):
    core.name = name
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


# ---- bare os.fork(): children multiprocessing did not make ---------------

subprocess_py = os.path.join(core.stdlib, "subprocess.py")


def bare_fork(f):
    # Whether the fork was the program's own (or a library's) rather than
    # multiprocessing's (a Process, a Pool's worker, a fork server's child:
    # those say who they are in _bootstrap) or subprocess's (a preexec_fn
    # runs the fork handlers in a child that then execs another program).
    # f: the frame that called fork.
    if f is None:
        return False
    filename = f.f_code.co_filename
    return not core.multiprocessing_s(filename) and filename != subprocess_py


def forked_bare(parent, n):
    # In the child of a bare fork: named after the process that forked it
    # (`fork 1 of MainProcess`), its parent the forker, started by fork. Its
    # status is the one its parent reaps (said by the parent's wait), or the
    # one it gives os._exit (which skips atexit): said here, at that call.
    announce("fork %d of %s" % (n, parent or "pid %d" % os.getppid()), "process", "fork")
    me = os.getpid()
    real_exit = os._exit

    def _exit(code):
        if type(code) is int and os.getpid() == me and not core.is_off:
            try:
                core.emit({"t": "end", "pid": me, "code": code & 0xFF,
                           "cpu_s": time.process_time()})
            except Exception:
                pass
        real_exit(code)

    os._exit = _exit


forked_bare_s = core.safely(forked_bare)


def status_of(status):
    # A wait status as Python reports it (-9 for SIGKILL); None while the
    # child only stopped or continued.
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return None


def reaped(pid, status):
    if pid > 0 and not core.is_off:
        code = status_of(status)
        if code is not None:
            core.emit_s({"t": "exit", "pid": pid, "code": code})


def patch_waits():
    # Exit statuses the program reaps itself with os.wait*() (a bare fork's
    # child): said as its parent saw them. Each wrapper returns exactly what
    # the call returned and raises what it raised.
    real = {n: getattr(os, n) for n in ("waitpid", "wait", "wait3", "wait4", "waitid")
            if hasattr(os, n)}

    if "waitpid" in real:
        waitpid_ = real["waitpid"]

        def waitpid(pid, options):
            r = waitpid_(pid, options)
            reaped(r[0], r[1])
            return r
        os.waitpid = waitpid

    if "wait" in real:
        wait_ = real["wait"]

        def wait():
            r = wait_()
            reaped(r[0], r[1])
            return r
        os.wait = wait

    for n in ("wait3", "wait4"):
        if n in real:
            def make(fn):
                def w(*args, **kw):
                    r = fn(*args, **kw)
                    reaped(r[0], r[1])
                    return r
                w.__name__ = fn.__name__
                return w
            setattr(os, n, make(real[n]))

    if "waitid" in real:
        waitid_ = real["waitid"]
        exited = getattr(os, "CLD_EXITED", 1)
        killed = (getattr(os, "CLD_KILLED", 2), getattr(os, "CLD_DUMPED", 3))

        def waitid(*args, **kw):
            r = waitid_(*args, **kw)
            if r is not None and r.si_pid > 0 and not core.is_off:
                if r.si_code == exited:
                    core.emit_s({"t": "exit", "pid": r.si_pid, "code": r.si_status})
                elif r.si_code in killed:
                    core.emit_s({"t": "exit", "pid": r.si_pid, "code": -r.si_status})
            return r
        os.waitid = waitid
