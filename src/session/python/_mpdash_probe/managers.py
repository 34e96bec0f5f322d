# Managers: the server process, and each call a proxy makes, per method and
# per object (ids from the manager's address and the object's id there, the
# same in every process); a call noted as a wait.

import zlib

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff

told = set()


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
        at = core.wait_begin_s(ff.MANAGER_CALL, obj)
        t0 = core.now()
        try:
            return callmethod(self, methodname, args, kwds)
        finally:
            core.wait_end(at)
            core.add_two_s(meth, 1, core.now() - t0)
            core.add_to_s(obj, 1)

    mgrs.BaseManager.start, mgrs.BaseProxy.__init__ = start_, proxy_init_
    mgrs.BaseProxy._callmethod = _callmethod
