# multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor: per
# pool, in the parent [tasks of the calls made, tasks sent to the workers
# (Pool._quick_put bypasses Queue.put), results received]; in each worker
# [tasks taken, the task it runs now (its function's name id << 32 | job +
# 1, its index, since)]. A worker that dies with a task leaves it there:
# nobody runs it again. Waiting on a result is noted as a wait.

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff

TOTAL, SENT, DONE, TAKEN, TASK, INDEX, SINCE = (ff.TOTAL, ff.SENT, ff.DONE, ff.TAKEN, ff.TASK,
                                                 ff.INDEX, ff.SINCE)


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
    k = core.text_id(str(name))
    v = core.view_of(oid)
    v[TAKEN] += 1
    v[TASK] = (k << 32) | ((job + 1) & 0xFFFFFFFF)
    v[INDEX] = i if isinstance(i, int) else 0
    v[SINCE] = core.now()


def task_end(oid):
    core.view_of(oid)[TASK] = 0


task_begin_s, task_end_s = core.safely(task_begin), core.safely(task_end)


class Tasks(object):
    # A pool worker's task queue, as the worker sees it.
    def __init__(self, q, oid, getter="get"):
        self._q, self._oid, self._get = q, oid, getattr(q, getter)
        if hasattr(q, "_writer"):
            self._writer = q._writer

    def get(self, *args, **kw):
        at = core.wait_begin_s(ff.GET, self._oid, loc=0)
        try:
            task = self._get(*args, **kw)
        finally:
            core.wait_end(at)
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
        # sending it (a Pool's terminate) has lost nothing. (Killed while
        # sending, the hang is still found: every process waits.)
        task_end_s(self._oid)
        return self._q.put(r, *args, **kw)


def patch_pool(mp_pool):
    Pool, ApplyResult, MapResult = mp_pool.Pool, mp_pool.ApplyResult, mp_pool.MapResult
    setup, pool_init = Pool._setup_queues, Pool.__init__
    add_to_s = core.add_to_s

    def _setup_queues(self):
        setup(self)
        if core.internal("pool.py", libraries=False):
            return
        oid = core.register_s(self, "Pool")
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
            core.emit_s({"t": "workers", "id": oid, "n": self._processes})

    Pool._setup_queues, Pool.__init__ = _setup_queues, __init__

    ar_init, mr_init, ar_wait = ApplyResult.__init__, MapResult.__init__, ApplyResult.wait

    def ar_init_(self, pool, *args, **kw):
        ar_init(self, pool, *args, **kw)
        if type(self) is ApplyResult:
            core.add_s(pool, TOTAL)

    def mr_init_(self, pool, chunksize, length, *args, **kw):
        mr_init(self, pool, chunksize, length, *args, **kw)
        core.add_s(pool, TOTAL, self._number_left)

    def ar_wait_(self, timeout=None):
        oid = getattr(self._pool, "_mpdash_id", None)
        if oid is None or self.ready():
            return ar_wait(self, timeout)
        call = ff.MAP if isinstance(self, MapResult) else ff.APPLY
        at = core.wait_begin_s(ff.POOL_RESULT, oid, timeout=timeout,
                               extra=(call << 32) | (self._job + 1))
        try:
            return ar_wait(self, timeout)
        finally:
            core.wait_end(at)

    ApplyResult.__init__, MapResult.__init__, ApplyResult.wait = ar_init_, mr_init_, ar_wait_

    it_next = mp_pool.IMapIterator.next

    def it_next_(self, timeout=None):
        oid = getattr(self._pool, "_mpdash_id", None)
        if oid is None:
            return it_next(self, timeout)
        at = core.wait_begin_s(ff.POOL_RESULT, oid, timeout=timeout,
                               extra=(ff.IMAP << 32) | (self._job + 1))
        try:
            return it_next(self, timeout)
        finally:
            core.wait_end(at)

    mp_pool.IMapIterator.next = mp_pool.IMapIterator.__next__ = it_next_

    original_worker = mp_pool.worker

    def worker(inqueue, outqueue, *args, **kw):
        oid = getattr(inqueue, "_mpdash_pool", None)
        if oid is None or core.is_off:
            return original_worker(inqueue, outqueue, *args, **kw)
        return original_worker(Tasks(inqueue, oid), Results(outqueue, oid), *args, **kw)

    worker.__module__, worker.__name__ = original_worker.__module__, original_worker.__name__
    worker.__qualname__ = original_worker.__qualname__
    mp_pool.worker = worker


def patch_executor(cfp):
    # concurrent.futures.ProcessPoolExecutor: the same counters as a Pool
    # (tasks submitted, sent to the call queue, taken and finished per
    # worker, futures done); a dead worker breaks the executor
    # (BrokenProcessPool), so no task is lost silently there.
    Executor = cfp.ProcessPoolExecutor
    init, submit = Executor.__init__, Executor.submit
    add_to_s = core.add_to_s

    def __init__(self, *args, **kw):
        init(self, *args, **kw)
        if core.internal("process.py", libraries=False):
            return
        oid = core.register_s(self, "ProcessPoolExecutor")
        if oid is None:
            return
        core.emit_s({"t": "workers", "id": oid, "n": self._max_workers})
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
        if oid is None or core.is_off:
            return worker(call_queue, result_queue, *args, **kw)
        return worker(Tasks(call_queue, oid), Results(result_queue, oid), *args, **kw)

    _process_worker.__module__, _process_worker.__name__ = worker.__module__, worker.__name__
    _process_worker.__qualname__ = worker.__qualname__
    cfp._process_worker = _process_worker

    # A result is counted where the executor's thread receives it (a future
    # may complete before submit() has returned it).
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
        w = core.wait_begin_s(ff.POOL_RESULT, oid, timeout=timeout, extra=ff.FUTURE << 32)
        try:
            return result(self, timeout)
        finally:
            core.wait_end(w)

    Future.result = result_
