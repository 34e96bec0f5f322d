# Managers: the server process, and each call a proxy makes, per method and
# per object (ids from the manager's address and the object's id there, the
# same in every process); a call noted as a wait.

import zlib

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff

told = set()

# A Manager's Lock or RLock: who holds it is the process whose acquisitions
# (that returned True) outnumber its releases, counted in the object's slot
# after its calls (word 1) -- as a SemLock's are, so the wait-for graph
# finds a cycle through manager locks too.
LOCKS = ("Lock", "RLock")
HELD_ACQUIRED, HELD_RELEASES = 2, 3


def timed(args, kwds):
    # 0 (a deadline: not proof of anything) for a non-blocking acquire or
    # one with a timeout, None for a wait without end.
    blocking = args[0] if args else kwds.get("blocking", True)
    timeout = args[1] if len(args) > 1 else kwds.get("timeout")
    if not blocking or (timeout is not None and timeout >= 0):
        return 0
    return None


def stable_id(text):
    return (1 << 40) | zlib.crc32(text.encode("utf-8", "replace"))


def tell_once(oid, record):
    if oid not in told:
        told.add(oid)
        record["id"] = oid
        core.emit(record)


tell_once_s = core.safely(tell_once)


def patch_managers(mgrs):
    start, callmethod = mgrs.BaseManager.start, mgrs.BaseProxy._callmethod
    proxy_init = mgrs.BaseProxy.__init__

    def start_(self, *args, **kw):
        r = start(self, *args, **kw)
        oid = stable_id(str(self._address))
        self._mpdash_id = oid
        core.register_s(self, "Manager", server=self._process.pid, fixed=oid)
        return r

    def proxy_init_(self, token, *args, **kw):
        proxy_init(self, token, *args, **kw)
        if not core.internal("managers.py"):
            oid = stable_id("%s|%s" % (token.address, token.id))
            core.register_s(self, "ManagerObject", typeid=token.typeid,
                            manager=stable_id(str(token.address)), fixed=oid)

    def _callmethod(self, methodname, args=(), kwds={}):
        token = self._token
        obj = stable_id("%s|%s" % (token.address, token.id))
        meth = stable_id("%s|%s.%s" % (token.address, token.typeid, methodname))
        tell_once_s(meth, {"t": "obj", "kind": "ManagerMethod", "at": "?",
                           "name": "%s.%s" % (token.typeid, methodname),
                           "manager": stable_id(str(token.address))})
        lock = token.typeid in LOCKS
        if lock and methodname == "acquire":
            at = core.wait_begin_s(ff.ACQUIRE, obj, timeout=timed(args, kwds))
        else:
            at = core.wait_begin_s(ff.MANAGER_CALL, obj)
        if lock and methodname == "release":
            # Counted before the release (the next holder may count its
            # acquisition at once), taken back if it fails.
            core.add_to_s(obj, HELD_RELEASES)
        t0 = core.now()
        done = False
        try:
            r = callmethod(self, methodname, args, kwds)
            done = True
            return r
        finally:
            core.wait_end(at)
            core.add_two_s(meth, 1, core.now() - t0)
            core.add_to_s(obj, 1)
            if lock and methodname == "acquire" and done and r:
                core.add_to_s(obj, HELD_ACQUIRED)
            elif lock and methodname == "release" and not done:
                core.add_to_s(obj, HELD_RELEASES, -1)

    mgrs.BaseManager.start, mgrs.BaseProxy.__init__ = start_, proxy_init_
    mgrs.BaseProxy._callmethod = _callmethod
