# The probe's state in this process and what every concern uses: its two
# files, records, source locations and names, object slots (counters) and
# wait slots, turning itself off, and patching a module when the program
# first imports it.
#
# The hot path makes no system call: a count is one store into a
# memoryview of this process's own mapped file (p<pid>.bin). New objects,
# processes and source locations are registered once each as JSON lines
# (p<pid>.jsonl).

import mmap
import os
import sys
import threading
import time

from _mpdash_probe import fileformat as ff

# Where the probe writes (MPDASH_PROBE_DIR), and the directory its own
# files are in (the run's site/): frames from there are the probe's.
directory = os.environ.get("MPDASH_PROBE_DIR")
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# This process's files (None until opened; a forked child opens its own).
pid = None
mm = None
log = None
# Object id -> its slot's offset in mm.
slots = {}
# Object id -> a memoryview of its slot ("q"): the hot path's counters.
views = {}
# Location (file, line) or a function's name -> its loc id.
locs = {}
# (code, last instruction) of a program's frame -> its loc id.
at_instr = {}
# Thread ident -> its wait slot (a memoryview).
wslots = {}
wait_lock = threading.Lock()
main_tid = threading.get_native_id()
# Off: something failed; the probe stops and says so once.
is_off = False
# This process's Python name, as announced (a bare os.fork() child is named
# after it), and how many bare forks it made so far.
name = None
forks = 0
# What the concerns keep of this process's mapping (views kept on objects):
# made again in a forked child, and when the probe turns off.
resets = []

now = time.monotonic_ns
ident = threading.get_ident
getframe = sys._getframe

# Counts made after the probe turned off, or past the last slot, go here.
nowhere = memoryview(bytearray(ff.SLOT)).cast("q")


def off(why):
    global is_off
    if is_off:
        return
    is_off = True
    # The hot paths find no view and no wait slot from now on.
    views.clear()
    wslots.clear()
    at_instr.clear()
    try:
        sys.stderr.write("mpdash probe: off (%s)\n" % why)
    except Exception:
        pass
    run_resets()


def run_resets():
    for reset in resets:
        try:
            reset()
        except Exception:
            pass


def safely(fn):
    def wrapper(*args, **kw):
        if is_off:
            return None
        try:
            return fn(*args, **kw)
        except Exception as e:
            off("%s: %s" % (type(e).__name__, e))
            return None
    wrapper.__name__ = getattr(fn, "__name__", "probe")
    return wrapper


def open_files():
    global pid, mm, log
    pid = os.getpid()
    slots.clear()
    locs.clear()
    at_instr.clear()
    views.clear()
    wslots.clear()
    base = os.path.join(directory, "p%d" % pid)
    fd = os.open(base + ".bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, ff.SIZE)
        m = mmap.mmap(fd, ff.SIZE)
    finally:
        os.close(fd)
    header = memoryview(m)[0:24].cast("q")
    m[0:8] = ff.MAGIC
    header[1] = 1
    header[2] = pid
    header.release()
    mm = m
    # A raw descriptor, written a whole line at a time: no file object for
    # the program's garbage collector or its -W error to find unclosed at
    # exit (not inherited across exec).
    log = os.open(base + ".jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    # The main thread by its native id and Python ident, so mpdash can tell
    # which threads a wait slot belongs to (after a fork, the thread that
    # forked is the child's main thread; `main_thread().native_id` is the
    # parent's after a fork in 3.11).
    main = threading.main_thread()
    os.write(log, ff.line({"t": "thread", "tid": main_tid or pid, "name": main.name,
                           "ident": (main.ident or 0) & ff.IDENT_MASK}))


def forked():
    # In a forked child: the thread that forked is its only, and main,
    # thread; it writes its own files (the parent's mapping is shared).
    global pid, mm, log, main_tid
    main_tid = threading.get_native_id()
    pid = mm = log = None
    slots.clear()
    locs.clear()
    at_instr.clear()
    views.clear()
    wslots.clear()
    run_resets()


def emit(record):
    if mm is None:
        open_files()
    os.write(log, ff.line(record))


emit_s = safely(emit)


# ---- locations: the program's line, not multiprocessing's ---------------

stdlib = os.path.dirname(os.path.abspath(os.__file__))
stdlib_dir = stdlib + os.sep
mp_dir = os.path.join(stdlib, "multiprocessing") + os.sep
cf_dir = os.path.join(stdlib, "concurrent") + os.sep
seen = {}


def ours(filename):
    # Per file name, once: multiprocessing's, concurrent.futures' or ours,
    # or any library's (the standard library, site-packages: joblib,
    # loky...) -- not the program's own. What a library makes is its own
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


def library_frame(f):
    # A frame of multiprocessing, a library or the probe, or code a library
    # generated (a manager proxy's methods are exec'd into a bare namespace:
    # `<string>` with no __name__, unlike `python -c`'s), or frozen.
    filename = f.f_code.co_filename
    if ours(filename):
        return True
    return filename[:1] == "<" and (filename.startswith("<frozen")
                                    or "__name__" not in f.f_globals)


def user_frame(depth=1):
    # The program's frame that led here: the first outside multiprocessing,
    # concurrent.futures, the libraries and the probe.
    f = getframe(depth + 1)
    while f is not None and library_frame(f):
        f = f.f_back
    return f


def internal(module, libraries=True):
    # Whether the object being made belongs to multiprocessing itself (a
    # Queue's locks, a Condition's semaphores, an executor's queues) or to a
    # library (joblib's, loky's queues and pipes) rather than to the
    # program: past the probe, the class's own module and one context.py
    # frame (`mp.Lock()`), who called? A pool or an executor a library
    # starts for the program is the program's (`libraries` False): its
    # workers and tasks are what the program asked for.
    f = getframe(1)
    while f is not None and (f.f_code.co_filename.startswith(here)
                             or (f.f_code.co_filename.endswith(module)
                                 and multiprocessing_s(f.f_code.co_filename))):
        f = f.f_back
    if f is not None and f.f_code.co_filename.endswith("context.py") and ours(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return False
    return ours(f.f_code.co_filename) if libraries else multiprocessing_s(f.f_code.co_filename)


def text_id(key):
    # A location (file, line) or a function's name, said once per process.
    k = locs.get(key)
    if k is None:
        if mm is None:
            open_files()
        k = len(locs) + 1
        locs[key] = k
        text = key if isinstance(key, str) else "%s:%d" % (os.path.basename(key[0]), key[1])
        emit({"t": "loc", "id": k, "at": text})
    return k


def where_from(f):
    # The loc id of the program's line that led here, from the frame f
    # (0: none). A program's frame is remembered by its instruction, so the
    # next wait there finds its loc id without computing its line.
    g = f
    while g is not None and library_frame(g):
        g = g.f_back
    if g is None:
        return 0
    key = (g.f_code.co_filename, g.f_lineno)
    k = locs.get(key)
    if k is None:
        k = text_id(key)
    if g is f:
        at_instr[(f.f_code, f.f_lasti)] = k
    return k


def register(obj, kind, fixed=None, **extra):
    # A new object of the program's: its id (kept on it), said once with
    # its name and the line that made it.
    oid = ((pid or 0) << 24) ^ id(obj) ^ (now() & 0xFFFFFF)
    oid = fixed or oid & ((1 << 62) - 1)
    obj._mpdash_id = oid
    pair = extra.pop("pair", False)
    f = user_frame()
    name, at = None, "?"
    if f is not None:
        from _mpdash_probe import names
        at = "%s:%d" % (os.path.basename(f.f_code.co_filename), f.f_lineno)
        name = names.name_at(f, pair)
    record = {"t": "obj", "id": oid, "kind": kind, "name": name or "%s@%s" % (kind, at), "at": at}
    record.update(extra)
    emit(record)
    return oid


register_s = safely(register)


# ---- object slots: the counters ----------------------------------------

def slot_of(oid):
    if oid is None:
        return None
    if mm is None:
        open_files()
    s = slots.get(oid)
    if s is None:
        if len(slots) >= ff.OBJ_SLOTS:
            return None
        s = ff.OBJ_AT + len(slots) * ff.SLOT
        slots[oid] = s
        v = memoryview(mm)[s:s + 8].cast("q")
        v[0] = oid
        v.release()
    return s


def view_of(oid):
    # An object's counters in this process, a memoryview of its slot: a
    # count is one store. (An increment of a view's element runs no Python
    # code between its load and its store, so under the GIL threads of one
    # process do not lose counts.) Past the last slot, or with the probe
    # off, counted nowhere rather than failing.
    v = views.get(oid)
    if v is None:
        if is_off:
            return nowhere
        try:
            s = slot_of(oid)
        except Exception as e:
            off("%s: %s" % (type(e).__name__, e))
            return nowhere
        if s is None:
            v = views[oid] = nowhere
        else:
            v = views[oid] = memoryview(mm)[s:s + ff.SLOT].cast("q")
    return v


def add(obj, field, n=1):
    oid = getattr(obj, "_mpdash_id", None)
    if oid is not None:
        (views.get(oid) or view_of(oid))[field] += n


def add_to(oid, field, n=1):
    if oid is not None:
        (views.get(oid) or view_of(oid))[field] += n


def add_two(oid, field, n):
    # A message and its bytes.
    v = views.get(oid) or view_of(oid)
    v[field] += 1
    v[field + 1] += n


add_s, add_to_s, add_two_s = safely(add), safely(add_to), safely(add_two)


# ---- waits: each thread notes its waits in its own slot -----------------

def wait_slot():
    tid = ident()
    w = wslots.get(tid)
    if w is not None or is_off:
        return w
    if mm is None:
        open_files()
    with wait_lock:
        # Slots of threads that ended are free again.
        live = threading._active
        for t in [t for t in wslots if t not in live]:
            wslots.pop(t)[ff.W_TID] = 0
        used = set(v[ff.W_TID] for v in wslots.values())
        for i in range(ff.WAIT_SLOTS):
            at = ff.WAIT_AT + i * ff.SLOT
            w = memoryview(mm)[at:at + ff.SLOT].cast("q")
            if w[0] == 0 or w[0] not in used and w[0] not in live:
                w[ff.W_OP] = 0
                w[ff.W_TID] = tid & ff.IDENT_MASK
                wslots[tid] = w
                return w
    return None


def wait_note(op, oid, loc, target=0, timeout=0, extra=0):
    w = wslots.get(ident()) or wait_slot()
    if w is None or w[1]:
        # (A wait inside another: the outer one stays.)
        return None
    w[2] = oid
    w[3] = loc
    w[4] = now()
    w[5] = target
    w[6] = timeout
    w[7] = extra
    w[1] = op
    return w


def noted(op, oid, frame, timeout):
    # A wait noted on a hot path, from the caller's frame; a failure turns
    # the probe off.
    try:
        return wait_note(op, oid, where_from(frame), 0, 1 if timeout is not None else 0)
    except Exception as e:
        off("%s: %s" % (type(e).__name__, e))
        return None


def wait_begin(op, obj, target=0, timeout=None, extra=0, loc=None):
    if isinstance(obj, int):
        oid = obj
    else:
        oid = getattr(obj, "_mpdash_id", None) or 0
    if loc is None:
        loc = where_from(getframe(2))
    return wait_note(op, oid, loc, target, 1 if timeout is not None else 0, extra)


def wait_begin_s(*args, **kw):
    if is_off:
        return None
    try:
        return wait_begin(*args, **kw)
    except Exception as e:
        off("%s: %s" % (type(e).__name__, e))
        return None


def wait_end(w):
    if w is not None:
        w[1] = 0


# ---- patching a module when the program first imports it ----------------

after_import = {}


class AfterImport(object):
    # Modules multiprocessing imports only when used (pool, popen_*,
    # concurrent.futures.process) are patched the moment they are loaded,
    # not imported at start-up.
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


def ours_imported(module):
    # One of the probe's modules, imported now; its bytecode cached in the
    # run's directory even under PYTHONDONTWRITEBYTECODE (every process of
    # the run then loads it compiled), when no other thread could import
    # anything of the program's meanwhile.
    import importlib
    name = "_mpdash_probe." + module
    m = sys.modules.get(name)
    if m is not None:
        return m
    flag = sys.dont_write_bytecode
    alone = flag and threading.active_count() == 1
    if alone:
        sys.dont_write_bytecode = False
    try:
        return importlib.import_module(name)
    finally:
        if alone:
            sys.dont_write_bytecode = flag


def patch_with(module, fn_name):
    # What patches a module: fn_name of the probe's module, imported then.
    def patch(target):
        return getattr(ours_imported(module), fn_name)(target)
    return patch
