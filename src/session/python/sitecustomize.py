# mpdash's probe: installed for one run only, in a private directory put
# first on PYTHONPATH (it imports any other sitecustomize after itself), so
# every Python process of the run -- forked, spawned, or forked by a fork
# server -- reports what its multiprocessing objects do.
#
# The hot path makes no system call: counters are plain stores into this
# process's own memory-mapped file (DIR/p<pid>.bin). New objects, processes
# and source locations are registered once each as JSON lines
# (DIR/p<pid>.jsonl). The dashboard reads both. A probe failure never
# breaks the program: the probe turns itself off and says so once.
#
# Standard library only; CPython 3.8 and later.

import os
import sys


# Set by the probe: what a rebuilt pipe end needs (see _mpdash_rebuild_connection).
_mpdash_hooks = {}


def _mpdash_rebuild_connection(rebuild, args, oid, side):
    # A pipe end pickled to a spawned child: rebuilt, then counted again.
    conn = rebuild(*args)
    hook = _mpdash_hooks.get("connection")
    if hook is not None:
        try:
            hook(conn, oid, side)
        except Exception:
            pass
    return conn


def _mpdash_probe():
    import ctypes
    import json
    import mmap
    import re
    import struct
    import threading
    import time
    import linecache

    directory = os.environ.get("MPDASH_PROBE_DIR")
    if not directory or not os.path.isdir(directory):
        return
    here = os.path.dirname(os.path.abspath(__file__))

    MAGIC = b"MPDPROB1"
    OBJ_SLOTS = 512
    WAIT_SLOTS = 32
    SLOT = 64
    OBJ_AT = 64
    WAIT_AT = OBJ_AT + OBJ_SLOTS * SLOT
    SIZE = WAIT_AT + WAIT_SLOTS * SLOT
    # A thread's Python ident as a wait slot holds it.
    IDENT_MASK = (1 << 62) - 1
    # Wait operations, as mpdash numbers them (runtime::board::WaitOp).
    (GET, PUT, JOIN_QUEUE, RECV, ACQUIRE, COND_WAIT, EVENT_WAIT, BARRIER_WAIT, JOIN, POOL_RESULT,
     MANAGER_CALL, FLUSH) = range(1, 13)
    pack = struct.Struct("<q").pack_into
    now = time.monotonic_ns

    state = {"pid": None, "mm": None, "log": None, "slots": {}, "off": False,
             "main_tid": threading.get_native_id()}
    locs = {}
    ident = threading.get_ident
    wait_lock = threading.Lock()

    on = True

    def off(why):
        nonlocal on
        on = False
        if not state["off"]:
            state["off"] = True
            try:
                sys.stderr.write("mpdash probe: off (%s)\n" % why)
            except Exception:
                pass

    def open_files():
        pid = os.getpid()
        state["pid"] = pid
        state["slots"] = {}
        locs.clear()
        views.clear()
        wslots.clear()
        base = os.path.join(directory, "p%d" % pid)
        fd = os.open(base + ".bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, SIZE)
            state["mm"] = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)
        state["mm"][0:8] = MAGIC
        pack(state["mm"], 8, 1)
        pack(state["mm"], 16, pid)
        # A raw descriptor, written a whole line at a time: no file object
        # for the program's garbage collector or its -W error to find
        # unclosed at exit (not inherited across exec).
        state["log"] = os.open(base + ".jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # The main thread by its native id and Python ident, so mpdash can
        # tell which threads a wait slot belongs to (after a fork, the thread
        # that forked is the child's main thread).
        # (`main_thread().native_id` is the parent's after a fork in 3.11.)
        main = threading.main_thread()
        os.write(state["log"], (json.dumps({
            "t": "thread", "tid": state["main_tid"] or pid, "name": main.name,
            "ident": (main.ident or 0) & IDENT_MASK}, separators=(",", ":")) + "\n").encode())

    def emit(record):
        if state["mm"] is None:
            open_files()
        os.write(state["log"], (json.dumps(record, separators=(",", ":")) + "\n").encode())

    seen = {}

    def ours(filename):
        # Per file name, once: multiprocessing's, concurrent.futures' or ours,
        # or any library's (the standard library, site-packages: joblib,
        # loky…) — not the program's own. What a library makes is its own
        # business; where it was asked for is the program's line.
        r = seen.get(filename)
        if r is None:
            r = seen[filename] = (filename.startswith(mp_dir) or filename.startswith(here)
                                  or filename.startswith(cf_dir) or filename.startswith(stdlib_dir)
                                  or "/site-packages/" in filename
                                  or "/dist-packages/" in filename)
        return r

    def multiprocessing_s(filename):
        return (filename.startswith(mp_dir) or filename.startswith(here)
                or filename.startswith(cf_dir))

    def user_frame():
        # The program's frame that led here: the first outside
        # multiprocessing, concurrent.futures and the probe.
        f = sys._getframe(1)
        while f is not None and ours(f.f_code.co_filename):
            f = f.f_back
        return f

    def internal(module, libraries=True):
        # Whether the object being made belongs to multiprocessing itself (a
        # Queue's locks, a Condition's semaphores, an executor's queues) or
        # to a library (joblib's, loky's queues and pipes) rather than to
        # the program: past the probe, the class's own module and one
        # context.py frame (`mp.Lock()`), who called? A pool or an executor
        # a library starts for the program is the program's (`libraries`
        # False): its workers and tasks are what the program asked for.
        f = sys._getframe(1)
        while f is not None and (f.f_code.co_filename.startswith(here)
                                 or (f.f_code.co_filename.endswith(module)
                                     and multiprocessing_s(f.f_code.co_filename))):
            f = f.f_back
        if f is not None and f.f_code.co_filename.endswith("context.py") and ours(f.f_code.co_filename):
            f = f.f_back
        if f is None:
            return False
        return ours(f.f_code.co_filename) if libraries else multiprocessing_s(f.f_code.co_filename)

    def where():
        return where_from(sys._getframe(1))

    def text_id(key):
        # A location (file, line) or a function's name, said once per process.
        k = locs.get(key)
        if k is None:
            if state["mm"] is None:
                open_files()
            k = len(locs) + 1
            locs[key] = k
            text = key if isinstance(key, str) else "%s:%d" % (os.path.basename(key[0]), key[1])
            emit({"t": "loc", "id": k, "at": text})
        return k

    assign = re.compile(r"^\s*(?:self\.)?([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")
    two = re.compile(r"^\s*\(?\s*([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)?\s*=(?!=)")
    with_as = re.compile(r"\bas\s+([A-Za-z_]\w*)\s*[:,)]")
    several = re.compile(r"^\s*\(?\s*[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+\s*,?\s*\)?\s*=(?!=)")

    def unpacked_name(f, text):
        # `a, b = Lock(), Lock()`: the name at the place, among the targets,
        # of the call being made (its column, from the frame's position).
        try:
            import ast
            positions = list(f.f_code.co_positions())
            col = positions[f.f_lasti // 2][2]
            indent = len(text) - len(text.lstrip())
            node = ast.parse(text.strip()).body[0]
            if col is None or not isinstance(node, ast.Assign) or len(node.targets) != 1:
                return None
            names, values = node.targets[0], node.value
            if not isinstance(names, ast.Tuple) or not isinstance(values, ast.Tuple):
                return None
            for target, value in zip(names.elts, values.elts):
                if (value.col_offset <= col - indent < value.end_col_offset
                        and isinstance(target, ast.Name)):
                    return target.id
        except Exception:
            return None
        return None

    def register(obj, kind, fixed=None, **extra):
        oid = ((state["pid"] or 0) << 24) ^ id(obj) ^ (now() & 0xFFFFFF)
        oid = fixed or oid & ((1 << 62) - 1)
        obj._mpdash_id = oid
        f = user_frame()
        name, at = None, "?"
        pair = extra.pop("pair", False)
        if f is not None:
            at = "%s:%d" % (os.path.basename(f.f_code.co_filename), f.f_lineno)
            text = linecache.getline(f.f_code.co_filename, f.f_lineno) or ""
            m = two.match(text) if pair else None
            if m:
                name = "%s ⇄ %s" % (m.group(1), m.group(2))
            elif several.match(text):
                name = unpacked_name(f, text)
            else:
                m = assign.match(text) or with_as.search(text)
                if m:
                    name = m.group(1)
        record = {"t": "obj", "id": oid, "kind": kind, "name": name or "%s@%s" % (kind, at), "at": at}
        record.update(extra)
        emit(record)
        return oid

    def slot_of(oid):
        if oid is None:
            return None
        if state["mm"] is None:
            open_files()
        s = state["slots"].get(oid)
        if s is None:
            if len(state["slots"]) >= OBJ_SLOTS:
                return None
            s = OBJ_AT + len(state["slots"]) * SLOT
            state["slots"][oid] = s
            pack(state["mm"], s, oid)
        return s

    # The hot path: an object's counters in this process are a ctypes view
    # of its slot in the mapped file, so a count is one store. An increment
    # of a view's element runs no Python code between its load and its
    # store, so under the GIL threads of one process do not lose counts.
    Slot = ctypes.c_int64 * 8
    views = {}
    nowhere = memoryview(bytearray(SLOT)).cast("q")

    def view_of(oid):
        v = views.get(oid)
        if v is None:
            s = slot_of(oid)
            # Out of slots: counted nowhere rather than failing.
            # A memoryview of 64-bit words: a count is one store, a little
            # cheaper than through ctypes.
            v = views[oid] = (nowhere if s is None
                              else memoryview(state["mm"])[s:s + SLOT].cast("q"))
        return v

    def add(obj, field, n=1):
        add_to(getattr(obj, "_mpdash_id", None), field, n)

    def add_to(oid, field, n=1):
        if oid is not None:
            view_of(oid)[field] += n

    # Each thread notes its waits in its own slot: [tid, op, object,
    # where, since, target, has a timeout, extra]; op 0 is "not waiting".
    wslots = {}

    def wait_slot():
        tid = ident()
        w = wslots.get(tid)
        if w is not None:
            return w
        if state["mm"] is None:
            open_files()
        with wait_lock:
            # Slots of threads that ended are free again.
            live = threading._active
            for t in [t for t in wslots if t not in live]:
                wslots.pop(t)[0] = 0
            used = set(id_ for id_ in (v[0] for v in wslots.values()))
            for i in range(WAIT_SLOTS):
                w = Slot.from_buffer(state["mm"], WAIT_AT + i * SLOT)
                if w[0] == 0 or w[0] not in used and w[0] not in live:
                    w[1] = 0
                    w[0] = tid & IDENT_MASK
                    wslots[tid] = w
                    return w
        return None

    def wait_note(op, oid, loc, target=0, deadline=0, extra=0):
        w = wslots.get(ident()) or wait_slot()
        if w is None or w[1]:
            # (A wait inside another: the outer one stays.)
            return None
        w[2] = oid
        w[3] = loc
        w[4] = now()
        w[5] = target
        w[6] = deadline
        w[7] = extra
        w[1] = op
        return w

    def where_from(f):
        # The program's line that led here, from the frame f.
        while f is not None and ours(f.f_code.co_filename):
            f = f.f_back
        if f is None:
            return 0
        key = (f.f_code.co_filename, f.f_lineno)
        k = locs.get(key)
        return k if k is not None else text_id(key)

    def wait_begin(op, obj, target=0, timeout=None, extra=0, loc=None):
        oid = getattr(obj, "_mpdash_id", 0) if obj is not None else 0
        if isinstance(obj, int):
            oid = obj
        if loc is None:
            loc = where_from(sys._getframe(1))
        return wait_note(op, oid, loc, target, 1 if timeout is not None else 0, extra)

    def wait_end(w):
        if w is not None:
            w[1] = 0

    def safely(fn):
        def wrapper(*args, **kw):
            if state["off"]:
                return None
            try:
                return fn(*args, **kw)
            except Exception as e:
                off("%s: %s" % (type(e).__name__, e))
                return None
        return wrapper

    wait_begin_s, add_s, add_to_s, emit_s = safely(wait_begin), safely(add), safely(add_to), safely(emit)

    getframe = sys._getframe

    def noted(op, oid, frame, timeout):
        # A wait noted on the hot path; a failure turns the probe off.
        try:
            return wait_note(op, oid, where_from(frame), 0, 1 if timeout is not None else 0)
        except Exception as e:
            off("%s: %s" % (type(e).__name__, e))
            return None

    # Modules multiprocessing imports only when used (pool, popen_*,
    # concurrent.futures.process) are patched the moment they are loaded,
    # not imported at start-up.
    after_import = {}

    class AfterImport(object):
        def find_spec(self, name, path=None, target=None):
            fn = after_import.pop(name, None)
            if fn is None:
                return None
            import importlib.machinery
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            run = loader.exec_module

            def exec_module(module):
                run(module)
                safely(fn)(module)

            loader.exec_module = exec_module
            return spec

    def when_imported(name, fn):
        if name in sys.modules:
            safely(fn)(sys.modules[name])
        else:
            after_import[name] = fn

    sys.meta_path.insert(0, AfterImport())

    # ---- what the probe patches -------------------------------------------

    # Nothing of multiprocessing is imported here: each module is patched
    # when the program first imports it (a program that does not use it
    # pays almost nothing).
    stdlib = os.path.dirname(os.path.abspath(os.__file__))
    stdlib_dir = stdlib + os.sep
    mp_dir = os.path.join(stdlib, "multiprocessing") + os.sep
    cf_dir = os.path.join(stdlib, "concurrent") + os.sep

    def cmdline():
        try:
            with open("/proc/self/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return ""

    @safely
    def announce(name, role, method=None):
        emit({"t": "proc", "pid": os.getpid(), "ppid": os.getppid(), "name": name,
              "role": role, "method": method, "t0": time.monotonic_ns()})

    cmd = cmdline()
    if "resource_tracker" in cmd:
        announce("resource tracker", "resource tracker")
    elif "multiprocessing.forkserver" in cmd:
        announce("fork server", "fork server")
    elif "spawn_main" not in cmd:
        announce("MainProcess", "main")

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
            announce(self.name, role_of(self), method)
            code = original_bootstrap(self, *args, **kw)
            # How it ended and the CPU it used (the kernel's count), said
            # once: a process too short for the dashboard to see still
            # has its row.
            emit_s({"t": "end", "pid": os.getpid(), "code": code, "cpu_s": time.process_time()})
            return code

        mp_process.BaseProcess._bootstrap = _bootstrap

        original_join = mp_process.BaseProcess.join

        def join(self, timeout=None):
            at = wait_begin_s(JOIN, None, target=self.pid or 0, timeout=timeout)
            try:
                return original_join(self, timeout)
            finally:
                wait_end(at)

        mp_process.BaseProcess.join = join

    when_imported("multiprocessing.process", patch_process)

    # Queues: puts and gets counted where the program calls them (a put
    # still in the feeder thread's buffer is counted, as the issue asks).
    def carry_id(cls):
        # An object's id rides through pickling (spawn, forkserver) beside
        # its state, never inside it: the state keeps the exact shape the
        # class gives it (JoinableQueue's __getstate__ adds to Queue's; a
        # user's subclass may too), and __getstate__/__setstate__ are left
        # alone. The id is set before the original __setstate__ runs: a
        # SemLock's makes its methods there, and instruments them only if it
        # has an id. (A pool's or an executor's task queue carries the
        # pool's id too.)
        if "__reduce_ex__" in cls.__dict__:
            return

        def __reduce_ex__(self, protocol):
            rv = object.__reduce_ex__(self, protocol)
            ids = (self.__dict__.get("_mpdash_id"), self.__dict__.get("_mpdash_pool"))
            # (make, args[, state[, None, None]]): anything more (list or
            # dict items, a state setter) is pickled as it is, without the id.
            if (ids == (None, None) or not isinstance(rv, tuple) or not 2 <= len(rv) <= 5
                    or any(x is not None for x in rv[3:])):
                return rv
            return _mpdash_rebuild, (rv[0], rv[1], rv[2] if len(rv) > 2 else None) + ids

        cls.__reduce_ex__ = __reduce_ex__

    def counted_put(put_, UNBOUNDED):
        # A put counted where it is made; only a bounded queue's put can
        # wait. (JoinableQueue.put is its own, not Queue.put: wrapped too.)
        def queue_put(self, obj, block=True, timeout=None):
            oid = self.__dict__.get("_mpdash_id")
            if oid is None or not on:
                return put_(self, obj, block, timeout)
            w = None
            if block and self._maxsize < UNBOUNDED:
                w = noted(PUT, oid, sys._getframe(1), timeout)
            try:
                r = put_(self, obj, block, timeout)
            finally:
                if w is not None:
                    w[1] = 0
            (views.get(oid) or view_of(oid))[1] += 1
            return r

        return queue_put

    def patch_queue(cls, kind, UNBOUNDED):
        init, put_, get_ = cls.__init__, cls.put, cls.get

        def __init__(self, *args, **kw):
            init(self, *args, **kw)
            if not internal("queues.py"):
                safely(register)(self, kind, maxsize=getattr(self, "_maxsize", 0) or 0)

        queue_put = counted_put(put_, UNBOUNDED)

        def queue_get(self, block=True, timeout=None):
            oid = self.__dict__.get("_mpdash_id")
            if oid is None or not on:
                return get_(self, block, timeout)
            w = None
            if block:
                # Inlined wait_note (the hottest path): a known line of the
                # program and this thread's slot, else the general way.
                f = getframe(1)
                loc = locs.get((f.f_code.co_filename, f.f_lineno))
                w = wslots.get(ident())
                if loc is None or w is None or w[1]:
                    w = noted(GET, oid, f, timeout)
                else:
                    w[2] = oid
                    w[3] = loc
                    w[4] = now()
                    w[6] = timeout is not None
                    w[1] = GET
            try:
                r = get_(self, block, timeout)
            finally:
                if w is not None:
                    w[1] = 0
            (views.get(oid) or view_of(oid))[2] += 1
            return r

        def simple_put(self, obj):
            oid = self.__dict__.get("_mpdash_id")
            r = put_(self, obj)
            if oid is not None and on:
                (views.get(oid) or view_of(oid))[1] += 1
            return r

        def simple_get(self):
            oid = self.__dict__.get("_mpdash_id")
            if oid is None or not on:
                return get_(self)
            w = noted(GET, oid, sys._getframe(1), None)
            try:
                r = get_(self)
            finally:
                if w is not None:
                    w[1] = 0
            (views.get(oid) or view_of(oid))[2] += 1
            return r

        put, get = (simple_put, simple_get) if kind == "SimpleQueue" else (queue_put, queue_get)

        cls.__init__, cls.put, cls.get = __init__, put, get
        carry_id(cls)

    def patch_queues(mp_queues):
        from multiprocessing.synchronize import SEM_VALUE_MAX
        patch_queue(mp_queues.Queue, "Queue", SEM_VALUE_MAX)
        patch_queue(mp_queues.SimpleQueue, "SimpleQueue", SEM_VALUE_MAX)
        original_jq_init = mp_queues.JoinableQueue.__init__

        def jq_init(self, *args, **kw):
            original_jq_init(self, *args, **kw)
            oid = getattr(self, "_mpdash_id", None)
            if oid is not None:
                emit({"t": "kind", "id": oid, "kind": "JoinableQueue"})

        mp_queues.JoinableQueue.__init__ = jq_init
        JQ = mp_queues.JoinableQueue
        JQ.put = counted_put(JQ.put, SEM_VALUE_MAX)
        task_done_, join_ = JQ.task_done, JQ.join

        def task_done(self):
            r = task_done_(self)
            oid = self.__dict__.get("_mpdash_id")
            if oid is not None and on:
                (views.get(oid) or view_of(oid))[3] += 1
            return r

        # q.join() waits until every item put was marked done: a wait only
        # the consumers' task_done() can end.
        def join(self):
            oid = self.__dict__.get("_mpdash_id")
            if oid is None or not on:
                return join_(self)
            w = noted(JOIN_QUEUE, oid, sys._getframe(1), None)
            try:
                return join_(self)
            finally:
                if w is not None:
                    w[1] = 0

        JQ.task_done, JQ.join = task_done, join

        # A process that put on a queue cannot exit before the queue's
        # feeder thread has written everything into the pipe: noted as a
        # wait (a parent joining it before reading is the classic hang).
        Queue = mp_queues.Queue
        start_thread, finalize_join = Queue._start_thread, Queue._finalize_join

        def _start_thread(self):
            start_thread(self)
            oid = self.__dict__.get("_mpdash_id")
            if oid is not None and self._thread is not None:
                self._thread._mpdash_q = oid

        def _finalize_join(twr):
            thread = twr()
            oid = getattr(thread, "_mpdash_q", None)
            w = wait_begin_s(FLUSH, oid, loc=0) if oid is not None and thread.is_alive() else None
            try:
                return finalize_join(twr)
            finally:
                wait_end(w)

        Queue._start_thread, Queue._finalize_join = _start_thread, staticmethod(_finalize_join)

    when_imported("multiprocessing.queues", patch_queues)

    def patch_synchronize(mp_sync):
        # Locks and semaphores: SemLock records no owner, so the probe does.
        kinds = {mp_sync.Lock: "Lock", mp_sync.RLock: "RLock", mp_sync.Semaphore: "Semaphore",
                 mp_sync.BoundedSemaphore: "BoundedSemaphore"}
        semlock_init = mp_sync.SemLock.__init__
        make_methods = mp_sync.SemLock._make_methods

        def semlock_init_(self, *args, **kw):
            semlock_init(self, *args, **kw)
            kind = kinds.get(type(self))
            if kind and not internal("synchronize.py"):
                extra = {}
                if kind.endswith("Semaphore"):
                    # Its value now: this, minus acquisitions, plus releases.
                    extra = {"value": self._semlock._get_value(), "bound": self._semlock.maxvalue}
                safely(register)(self, kind, **extra)
                make_methods_(self)

        def make_methods_(self):
            make_methods(self)
            if getattr(self, "_mpdash_id", None) is None:
                return
            c_acquire, c_release = self._semlock.acquire, self._semlock.release
            oid = self._mpdash_id

            # The slot: [id, acquisitions, -, -, -, acquisitions that had to
            # wait, -, releases]. The hot path is one count each way: who
            # holds a lock is the process whose acquisitions outnumber its
            # releases, and how long it has held it mpdash measures by
            # watching (where a thread is, its stack says).
            def slow(f, timeout):
                # Contended: it had to wait (noted as a wait, with the line).
                w = noted(ACQUIRE, oid, f, timeout)
                try:
                    got = c_acquire(True, timeout) if timeout is not None else c_acquire(True)
                finally:
                    if w is not None:
                        w[1] = 0
                if got and on:
                    try:
                        v = views.get(oid) or view_of(oid)
                        v[5] += 1
                        v[1] += 1
                    except Exception as e:
                        off("%s: %s" % (type(e).__name__, e))
                return got

            def acquire(block=True, timeout=None):
                if c_acquire(False):
                    if on:
                        try:
                            (views.get(oid) or view_of(oid))[1] += 1
                        except Exception as e:
                            off("%s: %s" % (type(e).__name__, e))
                    return True
                if not block:
                    return False
                return slow(getframe(1), timeout)

            def enter():
                # `with lock:` — the same, its caller two frames up.
                if c_acquire(False):
                    if on:
                        try:
                            (views.get(oid) or view_of(oid))[1] += 1
                        except Exception as e:
                            off("%s: %s" % (type(e).__name__, e))
                    return True
                return slow(getframe(2), None)

            def release():
                # Counted before the release (the next holder may count its
                # acquisition at once), taken back if the release fails.
                # Every release counts: a semaphore is often released by a
                # process that did not acquire it.
                v = None
                if on:
                    try:
                        v = views.get(oid) or view_of(oid)
                        v[7] += 1
                    except Exception as e:
                        off("%s: %s" % (type(e).__name__, e))
                        v = None
                try:
                    return c_release()
                except BaseException:
                    if v is not None:
                        v[7] -= 1
                    raise

            self.acquire, self.release, self._mpdash_enter = acquire, release, enter

        def enter(self):
            e = self.__dict__.get("_mpdash_enter")
            return e() if e is not None else self.acquire()

        def exit_(self, *args):
            return self.release()

        mp_sync.SemLock.__init__ = semlock_init_
        mp_sync.SemLock._make_methods = make_methods_
        mp_sync.SemLock.__enter__ = enter
        mp_sync.SemLock.__exit__ = exit_
        carry_id(mp_sync.SemLock)

        # Events, barriers and conditions: registered when the program
        # makes one, each wait noted before it blocks.
        def registering(cls, kind, extra=lambda self: {}):
            init = cls.__init__

            def __init__(self, *args, **kw):
                init(self, *args, **kw)
                if not internal("synchronize.py"):
                    safely(register)(self, kind, **extra(self))

            cls.__init__ = __init__

        def noting(cls, op, count=False):
            wait = cls.wait

            def noted_wait(self, timeout=None):
                if getattr(self, "_mpdash_id", None) is None:
                    return wait(self, timeout)
                if count:
                    add_s(self, 1)
                at = wait_begin_s(op, self, timeout=timeout)
                try:
                    return wait(self, timeout)
                finally:
                    wait_end(at)

            cls.wait = noted_wait

        registering(mp_sync.Event, "Event")
        noting(mp_sync.Event, EVENT_WAIT)
        # [sets, when last set, when last cleared]: set or clear, whichever
        # any process did last, is its state.
        ev_set, ev_clear = mp_sync.Event.set, mp_sync.Event.clear

        def ev_set_(self):
            r = ev_set(self)
            oid = getattr(self, "_mpdash_id", None)
            if oid is not None and on:
                v = view_of(oid)
                v[1] += 1
                v[2] = now()
            return r

        def ev_clear_(self):
            r = ev_clear(self)
            oid = getattr(self, "_mpdash_id", None)
            if oid is not None and on:
                view_of(oid)[3] = now()
            return r

        mp_sync.Event.set, mp_sync.Event.clear = ev_set_, ev_clear_

        registering(mp_sync.Barrier, "Barrier", lambda self: {"parties": self.parties})
        noting(mp_sync.Barrier, BARRIER_WAIT, count=True)

        # A Barrier pickles a tuple of its parts (spawn, forkserver): its id
        # rides along; an Event pickles its __dict__, which has the id already.
        carry_id(mp_sync.Barrier)

        # Conditions: notifies counted too.
        registering(mp_sync.Condition, "Condition")
        noting(mp_sync.Condition, COND_WAIT)
        co_notify = mp_sync.Condition.notify

        def co_notify_(self, n=1):
            if getattr(self, "_mpdash_id", None) is not None:
                add_s(self, 1)
            return co_notify(self, n)

        mp_sync.Condition.notify = co_notify_
        carry_id(mp_sync.Condition)

    when_imported("multiprocessing.synchronize", patch_synchronize)

    # Pipes: messages and bytes each way, counted on the two ends the
    # program got (a Queue's own pipe is not the program's). The ends carry
    # their ids when pickled to a spawned child.
    def add_two(oid, field, n):
        v = views.get(oid) or view_of(oid)
        v[field] += 1
        v[field + 1] += n

    add_two_s = safely(add_two)

    def instrument_end(conn, oid, side):
        conn._mpdash_id, conn._mpdash_side = oid, side
        send, recv = conn._send_bytes, conn._recv_bytes

        def _send_bytes(buf):
            send(buf)
            add_two_s(oid, 1 + 2 * side, len(buf))

        def _recv_bytes(*args):
            at = wait_begin_s(RECV, oid)
            try:
                return recv(*args)
            finally:
                wait_end(at)

        conn._send_bytes, conn._recv_bytes = _send_bytes, _recv_bytes

    _mpdash_hooks["connection"] = instrument_end

    def patch_connection(mp_conn):
        pipe = mp_conn.Pipe

        def Pipe(duplex=True):
            a, b = pipe(duplex)
            if not internal("connection.py"):
                oid = safely(register)(a, "Pipe", duplex=bool(duplex), pair=True)
                if oid is not None:
                    instrument_end(a, oid, 0)
                    instrument_end(b, oid, 1)
            return a, b

        mp_conn.Pipe = Pipe
        import multiprocessing.reduction as reduction
        reducers = reduction.ForkingPickler._extra_reducers
        reduce = reducers.get(mp_conn.Connection)
        if reduce is None:
            return

        def reduce_connection(conn):
            rv = reduce(conn)
            oid = getattr(conn, "_mpdash_id", None)
            if oid is None:
                return rv
            return (_mpdash_rebuild_connection, (rv[0], rv[1], oid, conn._mpdash_side))

        reducers[mp_conn.Connection] = reduce_connection

    when_imported("multiprocessing.connection", patch_connection)

    # Value and Array: where the shared value lives in this process and its
    # type; the dashboard reads the value itself from there.
    def shared_record(v, kind):
        import ctypes
        raw = getattr(v, "_obj", v)
        t = type(raw)
        code = getattr(getattr(t, "_type_", None), "_type_", None) if kind == "Array" else getattr(t, "_type_", None)
        if not isinstance(code, str):
            return
        oid = safely(register)(v, kind, addr=ctypes.addressof(raw), size=ctypes.sizeof(raw),
                               typecode=code, len=len(raw) if kind == "Array" else 1,
                               lock=raw is not v)
        if oid is not None:
            shared.append((oid, state["pid"], raw, kind))

    # The last values, said when the process that made them exits (the
    # dashboard can no longer read them there).
    shared = []

    @safely
    def last_values():
        for oid, pid, raw, kind in shared:
            if pid == state["pid"]:
                vals = raw[:12] if kind == "Array" else [raw.value]
                emit({"t": "values", "id": oid, "values": [repr(x) for x in vals]})

    def own_cpu():
        # The process's own CPU time at its exit: the kernel's count that
        # mpdash reaps includes every child Python reaped itself.
        if state["mm"] is not None:
            emit({"t": "cpu", "pid": os.getpid(), "cpu_s": time.process_time()})

    import atexit
    atexit.register(safely(own_cpu))
    atexit.register(last_values)

    def patch_sharedctypes(sc):
        value, array = sc.Value, sc.Array

        def Value(*args, **kw):
            v = value(*args, **kw)
            if not internal("sharedctypes.py"):
                safely(shared_record)(v, "Value")
            return v

        def Array(*args, **kw):
            v = array(*args, **kw)
            if not internal("sharedctypes.py"):
                safely(shared_record)(v, "Array")
            return v

        sc.Value, sc.Array = Value, Array

    when_imported("multiprocessing.sharedctypes", patch_sharedctypes)

    # Managers: the server process, and each call a proxy makes, per
    # method and per object (ids from the manager's address and the
    # object's id there, the same in every process).
    import zlib

    def stable_id(text):
        return (1 << 40) | zlib.crc32(text.encode("utf-8", "replace"))

    told = set()

    def tell_once(oid, record):
        if oid not in told:
            told.add(oid)
            record["id"] = oid
            emit(record)

    def patch_managers(mgrs):
        start, callmethod, proxy_init = mgrs.BaseManager.start, mgrs.BaseProxy._callmethod, mgrs.BaseProxy.__init__

        def start_(self, *args, **kw):
            r = start(self, *args, **kw)
            oid = stable_id(str(self._address))
            self._mpdash_id = oid
            safely(register)(self, "Manager", server=self._process.pid, fixed=oid)
            return r

        def proxy_init_(self, token, *args, **kw):
            proxy_init(self, token, *args, **kw)
            if not internal("managers.py"):
                oid = stable_id("%s|%s" % (token.address, token.id))
                safely(register)(self, "ManagerObject", typeid=token.typeid,
                                 manager=stable_id(str(token.address)), fixed=oid)

        def _callmethod(self, methodname, args=(), kwds={}):
            token = self._token
            obj = stable_id("%s|%s" % (token.address, token.id))
            meth = stable_id("%s|%s.%s" % (token.address, token.typeid, methodname))
            safely(tell_once)(meth, {"t": "obj", "kind": "ManagerMethod", "at": "?",
                                     "name": "%s.%s" % (token.typeid, methodname),
                                     "manager": stable_id(str(token.address))})
            at = wait_begin_s(MANAGER_CALL, obj)
            t0 = now()
            try:
                return callmethod(self, methodname, args, kwds)
            finally:
                wait_end(at)
                add_two_s(meth, 1, now() - t0)
                add_to_s(obj, 1)

        mgrs.BaseManager.start, mgrs.BaseProxy.__init__ = start_, proxy_init_
        mgrs.BaseProxy._callmethod = _callmethod

    when_imported("multiprocessing.managers", patch_managers)

    # Exit statuses a Python parent reaps itself (a pool's workers, joined
    # children): said once, as Python reports them (-9 for SIGKILL).
    def patch_poll(module):
        cls = module.Popen
        poll = cls.__dict__["poll"]

        def poll_(self, *args, **kw):
            rc = poll(self, *args, **kw)
            if rc is not None and not self.__dict__.get("_mpdash_told"):
                self._mpdash_told = True
                emit_s({"t": "exit", "pid": self.pid, "code": rc})
            return rc

        cls.poll = poll_

    when_imported("multiprocessing.popen_fork", patch_poll)
    when_imported("multiprocessing.popen_forkserver", patch_poll)

    # Pools: per pool, in the parent [tasks of the calls made, tasks sent
    # to the workers (Pool._quick_put bypasses Queue.put), results
    # received]; in each worker [tasks taken, the task it runs now (its
    # function's name id << 32 | job + 1, its index, since)]. A worker that
    # dies with a task leaves it there: nobody runs it again.
    TOTAL, SENT, DONE, TAKEN, TASK, INDEX, SINCE = range(1, 8)
    # The call a process waits on (the high half of a pool wait's job word).
    APPLY, MAP, IMAP = 1, 2, 3

    def task_begin(oid, task):
        if isinstance(task, tuple):
            job, i, func, args = task[0], task[1], task[2], task[3]
            fn = func
            if getattr(func, "__name__", "") in ("mapstar", "starmapstar") and args:
                fn = args[0][0]
        else:
            # An executor's _CallItem: the task is its work id.
            job, i, fn = 0, task.work_id, task.fn
            inner = getattr(fn, "func", None)
            if getattr(inner, "__name__", "") == "_process_chunk" and fn.args:
                fn = fn.args[0]
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
        k = text_id(str(name))
        v = view_of(oid)
        v[TAKEN] += 1
        v[TASK] = (k << 32) | ((job + 1) & 0xFFFFFFFF)
        v[INDEX] = i if isinstance(i, int) else 0
        v[SINCE] = now()

    def task_end(oid):
        view_of(oid)[TASK] = 0

    task_begin_s, task_end_s = safely(task_begin), safely(task_end)

    class Tasks(object):
        # A pool worker's task queue, as the worker sees it.
        def __init__(self, q, oid, getter="get"):
            self._q, self._oid, self._get = q, oid, getattr(q, getter)
            if hasattr(q, "_writer"):
                self._writer = q._writer

        def get(self, *args, **kw):
            at = wait_begin_s(GET, self._oid, loc=0)
            try:
                task = self._get(*args, **kw)
            finally:
                wait_end(at)
            if task is not None:
                task_begin_s(self._oid, task)
            return task

    class Results(object):
        # A pool worker's result queue: a put ends the task it runs.
        def __init__(self, q, oid):
            self._q, self._oid = q, oid
            if hasattr(q, "_reader"):
                self._reader = q._reader

        def put(self, r, *args, **kw):
            # The task ends before its result goes: a worker killed after
            # sending it (a Pool's terminate) has lost nothing. (Killed
            # while sending, the hang is still found: every process waits.)
            task_end_s(self._oid)
            return self._q.put(r, *args, **kw)

    def patch_pool(mp_pool):
        Pool, ApplyResult, MapResult = mp_pool.Pool, mp_pool.ApplyResult, mp_pool.MapResult
        setup, pool_init = Pool._setup_queues, Pool.__init__

        def _setup_queues(self):
            setup(self)
            if internal("pool.py", libraries=False):
                return
            oid = safely(register)(self, "Pool")
            if oid is None:
                return
            self._inqueue._mpdash_pool = oid
            qp, qg = self._quick_put, self._quick_get

            def quick_put(task):
                qp(task)
                if task is not None:
                    add_to_s(oid, SENT)

            def quick_get(*args):
                r = qg(*args)
                if r is not None:
                    add_to_s(oid, DONE)
                return r

            self._quick_put, self._quick_get = quick_put, quick_get

        def __init__(self, *args, **kw):
            pool_init(self, *args, **kw)
            oid = getattr(self, "_mpdash_id", None)
            if oid is not None:
                emit_s({"t": "workers", "id": oid, "n": self._processes})

        Pool._setup_queues, Pool.__init__ = _setup_queues, __init__

        ar_init, mr_init, ar_wait = ApplyResult.__init__, MapResult.__init__, ApplyResult.wait

        def ar_init_(self, pool, *args, **kw):
            ar_init(self, pool, *args, **kw)
            if type(self) is ApplyResult:
                add_s(pool, TOTAL)

        def mr_init_(self, pool, chunksize, length, *args, **kw):
            mr_init(self, pool, chunksize, length, *args, **kw)
            add_s(pool, TOTAL, self._number_left)

        def ar_wait_(self, timeout=None):
            oid = getattr(self._pool, "_mpdash_id", None)
            if oid is None or self.ready():
                return ar_wait(self, timeout)
            call = MAP if isinstance(self, MapResult) else APPLY
            at = wait_begin_s(POOL_RESULT, oid, timeout=timeout, extra=(call << 32) | (self._job + 1))
            try:
                return ar_wait(self, timeout)
            finally:
                wait_end(at)

        ApplyResult.__init__, MapResult.__init__, ApplyResult.wait = ar_init_, mr_init_, ar_wait_

        it_next = mp_pool.IMapIterator.next

        def it_next_(self, timeout=None):
            oid = getattr(self._pool, "_mpdash_id", None)
            if oid is None:
                return it_next(self, timeout)
            at = wait_begin_s(POOL_RESULT, oid, timeout=timeout, extra=(IMAP << 32) | (self._job + 1))
            try:
                return it_next(self, timeout)
            finally:
                wait_end(at)

        mp_pool.IMapIterator.next = mp_pool.IMapIterator.__next__ = it_next_

        original_worker = mp_pool.worker

        def worker(inqueue, outqueue, *args, **kw):
            oid = getattr(inqueue, "_mpdash_pool", None)
            if oid is None or state["off"]:
                return original_worker(inqueue, outqueue, *args, **kw)
            return original_worker(Tasks(inqueue, oid), Results(outqueue, oid), *args, **kw)

        worker.__module__, worker.__name__ = original_worker.__module__, original_worker.__name__
        worker.__qualname__ = original_worker.__qualname__
        mp_pool.worker = worker

    when_imported("multiprocessing.pool", patch_pool)

    # concurrent.futures.ProcessPoolExecutor: the same counters as a Pool
    # (tasks submitted, sent to the call queue, taken and finished per
    # worker, futures done); a dead worker breaks the executor
    # (BrokenProcessPool), so no task is lost silently there.
    FUTURE = 4

    def patch_executor(cfp):
        Executor = cfp.ProcessPoolExecutor
        init, submit = Executor.__init__, Executor.submit

        def __init__(self, *args, **kw):
            init(self, *args, **kw)
            if internal("process.py", libraries=False):
                return
            oid = safely(register)(self, "ProcessPoolExecutor")
            if oid is None:
                return
            emit_s({"t": "workers", "id": oid, "n": self._max_workers})
            q = self._call_queue
            q._mpdash_pool = oid
            put = q.put

            def counted_put(obj, *args, **kw):
                r = put(obj, *args, **kw)
                if obj is not None:
                    add_to_s(oid, SENT)
                return r

            q.put = counted_put

        def submit_(self, fn, *args, **kw):
            f = submit(self, fn, *args, **kw)
            oid = getattr(self, "_mpdash_id", None)
            if oid is not None:
                f._mpdash_pool = oid
                add_to_s(oid, TOTAL)
            return f

        Executor.__init__, Executor.submit = __init__, submit_
        worker = cfp._process_worker

        def _process_worker(call_queue, result_queue, *args, **kw):
            oid = getattr(call_queue, "_mpdash_pool", None)
            if oid is None or not on:
                return worker(call_queue, result_queue, *args, **kw)
            return worker(Tasks(call_queue, oid), Results(result_queue, oid), *args, **kw)

        _process_worker.__module__, _process_worker.__name__ = worker.__module__, worker.__name__
        _process_worker.__qualname__ = worker.__qualname__
        cfp._process_worker = _process_worker

        # A result is counted where the executor's thread receives it (a
        # future may complete before submit() has returned it).
        manager = getattr(cfp, "_ExecutorManagerThread", None)
        if manager is not None:
            process_result_item = manager.process_result_item

            def process_result_item_(self, result_item):
                r = process_result_item(self, result_item)
                if not isinstance(result_item, int):
                    oid = getattr(self.call_queue, "_mpdash_pool", None)
                    if oid is not None:
                        add_to_s(oid, DONE)
                return r

            manager.process_result_item = process_result_item_

    def patch_futures(base):
        Future = base.Future
        result = Future.result

        def result_(self, timeout=None):
            oid = self.__dict__.get("_mpdash_pool")
            if oid is None or self.done():
                return result(self, timeout)
            w = wait_begin_s(POOL_RESULT, oid, timeout=timeout, extra=FUTURE << 32)
            try:
                return result(self, timeout)
            finally:
                wait_end(w)

        Future.result = result_

    when_imported("concurrent.futures.process", patch_executor)
    when_imported("concurrent.futures._base", patch_futures)

    # Who printed a line, without changing a byte of it: a process whose
    # stdout or stderr is mpdash's pipe (mpdash says so: asked once at start
    # and in a forked child) gets a pipe of its own, whose reading end goes
    # to mpdash, which then knows who wrote what it reads there. stdout and
    # stderr on one pipe stay on one pipe; a stream redirected elsewhere (a
    # subprocess capture, a file dup2'ed onto fd 1) is left alone; sys.stdout
    # and sys.stderr are the interpreter's own objects.
    me = [os.getpid()]

    def own_output():
        import _socket
        import stat as stat_
        keys = []
        for fd in (1, 2):
            try:
                st = os.fstat(fd)
                pipe = stat_.S_ISFIFO(st.st_mode)
                keys.append("%d:%d" % (st.st_dev, st.st_ino) if pipe else "-")
            except OSError:
                keys.append("-")
        if keys == ["-", "-"]:
            return
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(5)
            sock.connect(os.path.join(directory, "out.sock"))
            sock.send(("Q %d %s %s" % (os.getpid(), keys[0], keys[1])).encode())
            mine = sock.recv(64).decode().split()[1:]
            groups = {}
            for fd, key, m in zip((1, 2), keys, mine):
                if m == "1":
                    groups.setdefault(key, []).append(fd)
            for fds in groups.values():
                r, w = os.pipe()
                try:
                    sock.sendmsg([("F %d" % os.getpid()).encode()],
                                 [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", r))])
                    for fd in fds:
                        os.dup2(w, fd)
                finally:
                    os.close(r)
                    os.close(w)
        finally:
            sock.close()

    def try_own_output():
        # Without it, output is still relayed, only not attributed.
        try:
            own_output()
        except Exception:
            pass

    try_own_output()

    # Threads by Python's names (a Queue's feeder thread, a Pool's handler
    # threads), said once each when they start.
    bootstrap_inner = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        try:
            emit({"t": "thread", "tid": threading.get_native_id(), "name": self.name,
                  "ident": ident() & IDENT_MASK, "cls": type(self).__name__})
        except Exception:
            pass
        return bootstrap_inner(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner


    def after_fork():
        me[0] = os.getpid()
        try_own_output()
        # The thread that forked is the child's only, and main, thread.
        state["main_tid"] = threading.get_native_id()
        # A forked child writes its own files (the parent's mapping is shared).
        state["pid"] = None
        state["mm"] = None
        state["log"] = None
        state["slots"] = {}
        locs.clear()
        views.clear()
        wslots.clear()

    os.register_at_fork(after_in_child=after_fork)
    open_files()


def _mpdash_rebuild(make, args, state, oid, pool):
    # Unpickles an object the probe follows: made as pickle would, its id
    # set, then its own state restored as pickle would.
    obj = make(*args)
    if oid is not None:
        obj._mpdash_id = oid
    if pool is not None:
        obj._mpdash_pool = pool
    if state is not None:
        setstate = getattr(obj, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            obj.__dict__.update(state)
    return obj


try:
    _mpdash_probe()
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
