# The probe's files, as mpdash reads them (src/telemetry/probe/mod.rs; a
# Rust test reads the constants below from this file and fails when the two
# sides differ):
#
#   DIR/p<pid>.jsonl  records, one JSON object a line, each said once:
#                     {"t": "proc" | "obj" | "kind" | "loc" | "thread" |
#                     "workers" | "values" | "end" | "cpu" | "exit", ...}
#   DIR/p<pid>.bin    SIZE bytes: a header (MAGIC, version, pid), OBJ_SLOTS
#                     object slots from OBJ_AT, WAIT_SLOTS wait slots from
#                     WAIT_AT; a slot is WORDS little-endian int64 words.

MAGIC = b"MPDPROB1"
OBJ_SLOTS = 512
WAIT_SLOTS = 32
SLOT = 64
OBJ_AT = 64
WAIT_AT = OBJ_AT + OBJ_SLOTS * SLOT
SIZE = WAIT_AT + WAIT_SLOTS * SLOT
WORDS = SLOT // 8

# A thread's Python ident as a wait slot holds it.
IDENT_MASK = (1 << 62) - 1

# Wait operations, as mpdash numbers them (runtime::board::WaitOp).
(GET, PUT, JOIN_QUEUE, RECV, ACQUIRE, COND_WAIT, EVENT_WAIT, BARRIER_WAIT, JOIN, POOL_RESULT,
 MANAGER_CALL, FLUSH) = range(1, 13)

# A wait slot: [thread ident, op (0: not waiting), object, where (a loc id),
# since (monotonic ns), target (a pid), has a timeout, extra].
W_TID, W_OP, W_OBJ, W_WHERE, W_SINCE, W_TARGET, W_TIMEOUT, W_EXTRA = range(8)

# An object slot: word 0 is the object's id, then its counters by kind.
#   Queue, JoinableQueue, SimpleQueue: puts, gets, tasks done.
PUTS, GETS, TASKS_DONE = 1, 2, 3
#   Lock, RLock, Semaphore, BoundedSemaphore: acquisitions, acquisitions
#   that had to wait, releases.
ACQUIRED, CONTENDED, RELEASED = 1, 5, 7
#   Event: sets, when last set, when last cleared. (Barrier: waits;
#   Condition: notifies; a manager's object: calls -- word 1.)
SETS, SET_AT, CLEARED_AT = 1, 2, 3
#   Pipe: messages and bytes sent by end 0, then by end 1. (A manager's
#   method: calls, then ns spent in them.)
SENT_0, BYTES_0, SENT_1, BYTES_1 = 1, 2, 3, 4
#   Pool, ProcessPoolExecutor: in the parent, tasks of the calls made, sent
#   to the workers, results received; in each worker, tasks taken, the task
#   it runs now (its function's name id << 32 | job + 1), its index, since.
TOTAL, SENT, DONE, TAKEN, TASK, INDEX, SINCE = range(1, 8)

# The call a process waits on (the high half of a pool wait's extra word).
APPLY, MAP, IMAP, FUTURE = 1, 2, 3, 4

# Records: a dict of str, int, float, bool, None, lists and dicts, as
# json.dumps(separators=(",", ":")) writes it, without importing json.
try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover (a CPython without _json)
    from json.encoder import py_encode_basestring_ascii as _quote


def _value(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    t = type(v)
    if t is str:
        return _quote(v)
    if t is int:
        return int.__repr__(v)
    if t is float:
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return float.__repr__(v)
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, float):
        return _value(float(v))
    if isinstance(v, (list, tuple)):
        return "[" + ",".join([_value(x) for x in v]) + "]"
    if isinstance(v, dict):
        return "{" + ",".join([_quote(str(k)) + ":" + _value(x) for k, x in v.items()]) + "}"
    raise TypeError("Object of type %s is not JSON serializable" % type(v).__name__)


def line(record):
    # One record as a line of bytes.
    return ("{" + ",".join([_quote(k) + ":" + _value(v) for k, v in record.items()])
            + "}\n").encode()


def exit_code(code):
    # The status a process exits with when Python's exit is given `code`
    # (`sys.exit(code)`, what Process._bootstrap returns): None and False
    # 0, True 1, an int its low byte as the kernel keeps it, anything else 1
    # (Python prints it and exits with 1).
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code) & 0xFF
    return 1
