# What pickles of the probe's objects refer to, by this module's path (a
# spawned or forkserver child imports it when it unpickles one): an
# object's id rides through pickling beside its state, never inside it.
# Nothing here runs at import.

# Set by the probe: what a rebuilt pipe end needs (connections.instrument_end).
hooks = {}


def rebuild(make, args, state, oid, pool):
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


def rebuild_connection(rebuild, args, oid, side):
    # A pipe end pickled to a spawned child: rebuilt, then counted again.
    conn = rebuild(*args)
    hook = hooks.get("connection")
    if hook is not None:
        try:
            hook(conn, oid, side)
        except Exception:
            pass
    return conn


def carry_id(cls):
    # An object's id rides through pickling (spawn, forkserver) beside its
    # state, never inside it: the state keeps the exact shape the class
    # gives it (JoinableQueue's __getstate__ adds to Queue's; a user's
    # subclass may too), and __getstate__/__setstate__ are left alone. The
    # id is set before the original __setstate__ runs: a SemLock's makes its
    # methods there, and instruments them only if it has an id. (A pool's or
    # an executor's task queue carries the pool's id too.)
    if "__reduce_ex__" in cls.__dict__:
        return

    def __reduce_ex__(self, protocol):
        rv = object.__reduce_ex__(self, protocol)
        d = getattr(self, "__dict__", None) or {}
        ids = (d.get("_mpdash_id"), d.get("_mpdash_pool"))
        # (make, args[, state[, None, None]]): anything more (list or dict
        # items, a state setter) is pickled as it is, without the id.
        if (ids == (None, None) or not isinstance(rv, tuple) or not 2 <= len(rv) <= 5
                or any(x is not None for x in rv[3:])):
            return rv
        return rebuild, (rv[0], rv[1], rv[2] if len(rv) > 2 else None) + ids

    cls.__reduce_ex__ = __reduce_ex__
