# Queue, JoinableQueue, SimpleQueue: puts and gets counted where the
# program calls them (a put still in the feeder thread's buffer is
# counted); a blocking get, a bounded queue's blocking put and
# JoinableQueue.join noted as waits; task_done counted.

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff
from _mpdash_probe.pickling import carry_id

views, wslots, at_instr = core.views, core.wslots, core.at_instr
view_of, noted, getframe, ident, now = core.view_of, core.noted, core.getframe, core.ident, core.now
GET, PUT, PUTS, GETS = ff.GET, ff.PUT, ff.PUTS, ff.GETS


def counted_put(put_, unbounded):
    # A put counted where it is made; only a bounded queue's put can wait.
    # (JoinableQueue.put is its own, not Queue.put: wrapped too.)
    def put(self, obj, block=True, timeout=None):
        oid = self._mpdash_id
        if oid is None:
            return put_(self, obj, block, timeout)
        if block and self._maxsize < unbounded:
            w = noted(PUT, oid, getframe(1), timeout)
            try:
                r = put_(self, obj, block, timeout)
            finally:
                if w is not None:
                    w[1] = 0
        else:
            r = put_(self, obj, block, timeout)
        (views.get(oid) or view_of(oid))[PUTS] += 1
        return r

    return put


def counted_get(get_):
    def get(self, block=True, timeout=None):
        oid = self._mpdash_id
        if oid is None:
            return get_(self, block, timeout)
        if block:
            # The wait noted inline (the hottest path): the caller's
            # instruction already placed and this thread's slot, else the
            # general way.
            f = getframe(1)
            loc = at_instr.get((f.f_code, f.f_lasti))
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
        else:
            r = get_(self, block, timeout)
        (views.get(oid) or view_of(oid))[GETS] += 1
        return r

    return get


def simple(put_, get_):
    def put(self, obj):
        oid = self._mpdash_id
        r = put_(self, obj)
        if oid is not None:
            (views.get(oid) or view_of(oid))[PUTS] += 1
        return r

    def get(self):
        oid = self._mpdash_id
        if oid is None:
            return get_(self)
        w = noted(GET, oid, getframe(1), None)
        try:
            r = get_(self)
        finally:
            if w is not None:
                w[1] = 0
        (views.get(oid) or view_of(oid))[GETS] += 1
        return r

    return put, get


def patch_queue(cls, kind, unbounded):
    init, put_, get_ = cls.__init__, cls.put, cls.get

    def __init__(self, *args, **kw):
        init(self, *args, **kw)
        if not core.internal("queues.py"):
            core.register_s(self, kind, maxsize=getattr(self, "_maxsize", 0) or 0)

    if kind == "SimpleQueue":
        put, get = simple(put_, get_)
    else:
        put, get = counted_put(put_, unbounded), counted_get(get_)
    # Not the program's (made inside multiprocessing), or not yet known.
    cls._mpdash_id = None
    cls.__init__, cls.put, cls.get = __init__, put, get
    carry_id(cls)


def patch_queues(mp_queues):
    from multiprocessing.synchronize import SEM_VALUE_MAX
    patch_queue(mp_queues.Queue, "Queue", SEM_VALUE_MAX)
    patch_queue(mp_queues.SimpleQueue, "SimpleQueue", SEM_VALUE_MAX)
    JQ = mp_queues.JoinableQueue
    jq_init, task_done_, join_ = JQ.__init__, JQ.task_done, JQ.join

    def __init__(self, *args, **kw):
        jq_init(self, *args, **kw)
        oid = self._mpdash_id
        if oid is not None:
            core.emit_s({"t": "kind", "id": oid, "kind": "JoinableQueue"})

    def task_done(self):
        r = task_done_(self)
        oid = self._mpdash_id
        if oid is not None:
            (views.get(oid) or view_of(oid))[ff.TASKS_DONE] += 1
        return r

    # q.join() waits until every item put was marked done: a wait only the
    # consumers' task_done() can end.
    def join(self):
        oid = self._mpdash_id
        if oid is None:
            return join_(self)
        w = noted(ff.JOIN_QUEUE, oid, getframe(1), None)
        try:
            return join_(self)
        finally:
            if w is not None:
                w[1] = 0

    JQ.__init__, JQ.put = __init__, counted_put(JQ.put, SEM_VALUE_MAX)
    JQ.task_done, JQ.join = task_done, join

    # A process that put on a queue cannot exit before the queue's feeder
    # thread has written everything into the pipe: noted as a wait (a
    # parent joining it before reading is the classic hang).
    Queue = mp_queues.Queue
    start_thread, finalize_join = Queue._start_thread, Queue._finalize_join

    def _start_thread(self):
        start_thread(self)
        oid = self._mpdash_id
        if oid is not None and self._thread is not None:
            self._thread._mpdash_q = oid

    def _finalize_join(twr):
        thread = twr()
        oid = getattr(thread, "_mpdash_q", None)
        w = (core.wait_begin_s(ff.FLUSH, oid, loc=0)
             if oid is not None and thread.is_alive() else None)
        try:
            return finalize_join(twr)
        finally:
            core.wait_end(w)

    Queue._start_thread, Queue._finalize_join = _start_thread, staticmethod(_finalize_join)
