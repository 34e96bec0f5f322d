# Pipes: messages and bytes each way, counted on the two ends the program
# got (a Queue's own pipe is not the program's); a receive noted as a wait.
# The ends carry their ids when pickled to a spawned child.

from _mpdash_probe import core
from _mpdash_probe import fileformat as ff
from _mpdash_probe import pickling


def instrument_end(conn, oid, side):
    conn._mpdash_id, conn._mpdash_side = oid, side
    send, recv = conn._send_bytes, conn._recv_bytes
    field = ff.SENT_0 + 2 * side
    add_two_s, wait_begin_s, wait_end = core.add_two_s, core.wait_begin_s, core.wait_end

    def _send_bytes(buf):
        send(buf)
        add_two_s(oid, field, len(buf))

    def _recv_bytes(*args):
        at = wait_begin_s(ff.RECV, oid)
        try:
            return recv(*args)
        finally:
            wait_end(at)

    conn._send_bytes, conn._recv_bytes = _send_bytes, _recv_bytes


def patch_connection(mp_conn):
    pickling.hooks["connection"] = instrument_end
    pipe = mp_conn.Pipe

    def Pipe(duplex=True):
        a, b = pipe(duplex)
        if not core.internal("connection.py"):
            oid = core.register_s(a, "Pipe", duplex=bool(duplex), pair=True)
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
        return (pickling.rebuild_connection, (rv[0], rv[1], oid, conn._mpdash_side))

    reducers[mp_conn.Connection] = reduce_connection
