# multiprocessing.synchronize: Lock, RLock, Semaphore, BoundedSemaphore
# (SemLock records no owner, so the probe counts acquisitions and releases:
# who holds a lock is the process whose acquisitions outnumber its
# releases), Event, Barrier, Condition; each wait noted before it blocks.

import weakref

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff
from _mpdash_probe.pickling import carry_id

views, view_of, noted, getframe = core.views, core.view_of, core.noted, core.getframe
ACQUIRE, ACQUIRED, CONTENDED, RELEASED = ff.ACQUIRE, ff.ACQUIRED, ff.CONTENDED, ff.RELEASED


def contended(c_acquire, oid, f, timeout):
    # (Rare: the view looked up, not kept.)
    # It had to wait: noted as a wait, with the program's line.
    w = noted(ACQUIRE, oid, f, timeout)
    try:
        got = c_acquire(True, timeout) if timeout is not None else c_acquire(True)
    finally:
        if w is not None:
            w[1] = 0
    if got:
        v = views.get(oid) or view_of(oid)
        v[CONTENDED] += 1
        v[ACQUIRED] += 1
    return got


# The program's SemLocks, instrumented: their counters' views are theirs
# (no look-up on the hot path), made again in a forked child (the parent's
# mapping is the parent's) and when the probe turns off.
instrumented = weakref.WeakSet()


def new_views():
    for lock in list(instrumented):
        hot = lock._mpdash_hot
        lock._mpdash_hot = hot[:3] + (view_of(hot[2]),)


core.resets.append(new_views)


def instrument(self):
    # A SemLock of the program's: its acquire and release, counted. The
    # slot: [id, acquisitions, -, -, -, acquisitions that had to wait, -,
    # releases]. The hot path is one count each way; how long a lock is
    # held mpdash measures by watching (where a thread is, its stack says).
    c_acquire, c_release = self._semlock.acquire, self._semlock.release
    oid = self._mpdash_id
    hot = (c_acquire, c_release, oid, view_of(oid))

    def acquire(block=True, timeout=None):
        if c_acquire(False):
            self._mpdash_hot[3][ACQUIRED] += 1
            return True
        if not block:
            return False
        return contended(c_acquire, oid, getframe(1), timeout)

    def release():
        # Counted before the release (the next holder may count its
        # acquisition at once), taken back if the release fails. Every
        # release counts: a semaphore is often released by a process that
        # did not acquire it.
        v = self._mpdash_hot[3]
        v[RELEASED] += 1
        try:
            return c_release()
        except BaseException:
            v[RELEASED] -= 1
            raise

    self.acquire, self.release = acquire, release
    self._mpdash_hot = hot
    instrumented.add(self)


def __enter__(self):
    # `with lock:` -- one call of the probe's, the caller one frame up; the
    # count one store into the lock's own view.
    hot = self._mpdash_hot
    if hot is None:
        return self._semlock.__enter__()
    if hot[0](False):
        hot[3][ACQUIRED] += 1
        return True
    return contended(hot[0], hot[2], getframe(1), None)


def __exit__(self, *args):
    hot = self._mpdash_hot
    if hot is None:
        return self._semlock.__exit__(*args)
    v = hot[3]
    v[RELEASED] += 1
    try:
        return hot[1]()
    except BaseException:
        v[RELEASED] -= 1
        raise


def registering(cls, kind, extra=None):
    # Events, barriers and conditions: registered when the program makes one.
    init = cls.__init__

    def __init__(self, *args, **kw):
        init(self, *args, **kw)
        if not core.internal("synchronize.py"):
            core.register_s(self, kind, **(extra(self) if extra else {}))

    cls.__init__ = __init__


def noting(cls, op, count=False):
    wait = cls.wait

    def noted_wait(self, timeout=None):
        if getattr(self, "_mpdash_id", None) is None:
            return wait(self, timeout)
        if count:
            core.add_s(self, 1)
        at = core.wait_begin_s(op, self, timeout=timeout)
        try:
            return wait(self, timeout)
        finally:
            core.wait_end(at)

    cls.wait = noted_wait


def patch_synchronize(mp_sync):
    kinds = {mp_sync.Lock: "Lock", mp_sync.RLock: "RLock", mp_sync.Semaphore: "Semaphore",
             mp_sync.BoundedSemaphore: "BoundedSemaphore"}
    SemLock = mp_sync.SemLock
    semlock_init, make_methods = SemLock.__init__, SemLock._make_methods

    def semlock_init_(self, *args, **kw):
        semlock_init(self, *args, **kw)
        kind = kinds.get(type(self))
        if kind and not core.internal("synchronize.py"):
            extra = {}
            if kind.endswith("Semaphore"):
                # Its value now: this, minus acquisitions, plus releases.
                extra = {"value": self._semlock._get_value(), "bound": self._semlock.maxvalue}
            core.register_s(self, kind, **extra)
            make_methods_(self)

    def make_methods_(self):
        make_methods(self)
        if self._mpdash_id is not None:
            core.safely(instrument)(self)

    SemLock._mpdash_id = None
    SemLock._mpdash_hot = None
    SemLock.__init__, SemLock._make_methods = semlock_init_, make_methods_
    SemLock.__enter__, SemLock.__exit__ = __enter__, __exit__
    carry_id(SemLock)

    registering(mp_sync.Event, "Event")
    noting(mp_sync.Event, ff.EVENT_WAIT)
    # [sets, when last set, when last cleared]: set or clear, whichever any
    # process did last, is its state.
    ev_set, ev_clear = mp_sync.Event.set, mp_sync.Event.clear

    def ev_set_(self):
        r = ev_set(self)
        oid = getattr(self, "_mpdash_id", None)
        if oid is not None:
            v = views.get(oid) or view_of(oid)
            v[ff.SETS] += 1
            v[ff.SET_AT] = core.now()
        return r

    def ev_clear_(self):
        r = ev_clear(self)
        oid = getattr(self, "_mpdash_id", None)
        if oid is not None:
            (views.get(oid) or view_of(oid))[ff.CLEARED_AT] = core.now()
        return r

    mp_sync.Event.set, mp_sync.Event.clear = ev_set_, ev_clear_

    registering(mp_sync.Barrier, "Barrier", lambda self: {"parties": self.parties})
    noting(mp_sync.Barrier, ff.BARRIER_WAIT, count=True)
    # A Barrier pickles a tuple of its parts (spawn, forkserver): its id
    # rides along; an Event pickles its __dict__, which has the id already.
    carry_id(mp_sync.Barrier)

    # Conditions: notifies counted too.
    registering(mp_sync.Condition, "Condition")
    noting(mp_sync.Condition, ff.COND_WAIT)
    co_notify = mp_sync.Condition.notify

    def co_notify_(self, n=1):
        if getattr(self, "_mpdash_id", None) is not None:
            core.add_s(self, 1)
        return co_notify(self, n)

    mp_sync.Condition.notify = co_notify_
    carry_id(mp_sync.Condition)
