"""CPython's own multiprocessing tests, for one start method.

Usage: python cpython-mp-runner.py METHOD [--subset] [--results FILE]
                                   [unittest options, e.g. -v, -k PATTERN]

METHOD is fork, forkserver or spawn. The tests are the interpreter's own
(test._test_multiprocessing with test.support: the standard library's test
package, or Debian's libpython3.X-testsuite), laid out as CPython runs them:

  - 3.12 and later: the package test.test_multiprocessing_METHOD (its
    test_processes, test_threads, test_manager and test_misc modules);
  - 3.11: test.test_multiprocessing_METHOD.py, or where the interpreter does
    not ship it, what that file does, here: the classes installed into this
    module with install_tests_in_module_dict(globals(), METHOD).

--subset keeps the classes of SUBSET below only (what mpdash's probe
patches), less SUBSET_SKIPS, for CI; -k patterns, if given, choose instead
of SUBSET's. --results FILE writes a JSON line as each test starts (id,
outcome: started, at: the time) and one per outcome (id, outcome: ok,
fail, error, skip, xfail or xpass; detail: the traceback or the reason; s:
its seconds), for comparing two runs test by test. The output is
unittest's own: "Ran N tests" and "OK ..." or "FAILED (...)" close it. The
exit status is unittest's (0: OK, 1: failures or errors), 2 on bad usage,
4 when the test suite cannot be imported (not installed).

Made for scripts/cpython-mp-tests (a comparison with and without mpdash).
"""

import importlib
import json
import os
import sys
import time
import unittest

# What the subset keeps: classes of test._test_multiprocessing (or one test
# of a class: "Class.test_name"), each with the variants kept (P:
# WithProcesses..., M: WithManager..., T: WithThreads...; "-": a plain
# TestCase class). Chosen by what the probe patches -- queues (Queue,
# JoinableQueue, SimpleQueue), locks, semaphores, conditions, events,
# barriers, pools, pipes and connections, connection.wait, managers and
# their proxies, shared ctypes, process start, exit and join -- and kept
# small: CI runs it plainly and probed, on three interpreters and methods,
# in about 90 s. Under forkserver each process start costs; the threads
# variants (multiprocessing.dummy: the threading module's objects, which
# the probe leaves alone) only for the pool, which the probe patches.
SUBSET = [
    ("TestQueue", "P"),  # Queue, JoinableQueue: put, get, task_done, full, empty
    ("TestLock", "PM"),  # Lock, RLock
    ("TestSemaphore", "PM"),  # Semaphore, BoundedSemaphore
    ("TestCondition", "P"),  # Condition: notify, wait_for, timeouts
    ("TestEvent", "P"),  # Event
    ("TestBarrier", "P"),  # Barrier: wait, abort, reset
    ("TestPool", "PT"),  # Pool, ThreadPool: apply, map, imap, async, terminate
    ("TestPoolWorkerErrors", "P"),  # a worker that raises or dies
    ("TestConnection", "P"),  # Pipe: send, recv, send_bytes, poll, duplex
    ("TestPoll", "P"),  # Connection.poll
    ("TestPicklingConnections", "P"),  # connections passed over connections
    ("TestContainers", "M"),  # a manager's list, dict, namespace proxies
    ("TestMyManager", "M"),  # a BaseManager subclass with its own types
    ("TestManagerRestart", "M"),  # a manager stopped and started again
    ("TestValue", "P"),  # sharedctypes.Value
    ("TestArray", "P"),  # sharedctypes.Array
    ("TestSharedCTypes", "P"),  # sharedctypes structures, copy
    ("TestSubclassingProcess", "P"),  # Process subclasses, a child's stderr, sys.exit
    ("TestSimpleQueue", "-"),  # SimpleQueue
    ("TestWait", "-"),  # connection.wait over pipes and sockets
    # A SyncManager's objects used by a child process:
    ("TestSyncManagerTypes.test_queue", "-"),
    ("TestSyncManagerTypes.test_lock", "-"),
    ("TestSyncManagerTypes.test_condition", "-"),
    ("TestSyncManagerTypes.test_list", "-"),
]

VARIANTS = {"P": "WithProcesses", "M": "WithManager", "T": "WithThreads", "-": ""}

# What it leaves out of those classes (test ids end so): tests that mostly
# sleep or start many processes (a second or more under forkserver on a
# loaded machine), and one that races.
SUBSET_SKIPS = [
    # 3.11-3.12: a thread pool's worker that picked time.sleep(LONG_TIMEOUT)
    # up before terminate() cannot be stopped: 300 s, now and then, on a
    # loaded machine (3.13 sleeps 1 s instead).
    "WithThreadsTestPool.test_terminate",
    "TestBarrier.test_default_timeout",  # 1 s of timeout
    "TestBarrier.test_timeout",  # 1 s of timeout
    "TestBarrier.test_barrier_10",  # 4 processes, 10 times
    "TestBarrier.test_thousand",
    "TestBarrier.test_wait_return",
    "TestBarrier.test_abort_and_reset",
    "TestCondition.test_wait_result",  # 1 s of timeout
    "TestCondition.test_notify_all",  # 1 s of sleeps
    "TestCondition.test_notify_n",
    "TestPool.test_map_no_failfast",  # 1.5 s
    "TestPoll.test_boundaries",  # 2 s
    "TestPoll.test_strings",  # 0.8 s
    "TestWait.test_wait_timeout",  # 5 s
    "TestWait.test_wait_integer",  # 3 s
    "TestWait.test_wait_slow",  # random sleeps
    "TestWait.test_wait_socket_slow",  # random sleeps
]


def subset_patterns():
    """SUBSET as unittest -k patterns (a substring of the test id)."""
    return [VARIANTS[v] + name + ("" if "." in name else ".")
            for name, variants in SUBSET for v in variants]


METHODS = ("fork", "forkserver", "spawn")


class SubsetLoader(unittest.TestLoader):
    """A loader that leaves out the tests of SUBSET_SKIPS."""

    def getTestCaseNames(self, testCaseClass):
        names = super().getTestCaseNames(testCaseClass)
        return [n for n in names
                if not any((testCaseClass.__name__ + "." + n).endswith(skip) for skip in SUBSET_SKIPS)]


def usage(why):
    sys.stderr.write("cpython-mp-runner.py: %s\n%s" % (why, __doc__.split("\n\n")[1] + "\n"))
    sys.exit(2)


def recording_runner(path):
    """A TextTestRunner whose result also writes each outcome to PATH."""
    out = open(path, "w", encoding="utf-8", buffering=1)
    me = os.getpid()

    class Recording(unittest.TextTestResult):
        _started = None

        def startTest(self, test):
            self._started = time.monotonic()
            if os.getpid() == me:
                # Which test was running, should the run never end.
                out.write(json.dumps({"id": test.id(), "outcome": "started",
                                      "at": round(time.time(), 3)}) + "\n")
            super().startTest(test)

        def _record(self, test, outcome, detail=""):
            # A forked child that ever ran this code must not write.
            if os.getpid() != me:
                return
            took = time.monotonic() - self._started if self._started else 0.0
            out.write(json.dumps({"id": test.id(), "outcome": outcome,
                                  "detail": detail, "s": round(took, 3)}) + "\n")

        def addSuccess(self, test):
            super().addSuccess(test)
            self._record(test, "ok")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._record(test, "fail", self.failures[-1][1])

        def addError(self, test, err):
            super().addError(test, err)
            self._record(test, "error", self.errors[-1][1])

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._record(test, "skip", str(reason))

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._record(test, "xfail")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._record(test, "xpass")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                if issubclass(err[0], test.failureException):
                    self._record(subtest, "fail", self.failures[-1][1])
                else:
                    self._record(subtest, "error", self.errors[-1][1])

    class Runner(unittest.TextTestRunner):
        resultclass = Recording

    return Runner


def main():
    args = sys.argv[1:]
    if not args or args[0] not in METHODS:
        usage("the first argument must be a start method (%s)" % ", ".join(METHODS))
    method = args.pop(0)
    subset = False
    results = None
    rest = []
    while args:
        a = args.pop(0)
        if a == "--subset":
            subset = True
        elif a == "--results":
            if not args:
                usage("--results needs a file")
            results = args.pop(0)
        else:
            rest.append(a)
    if subset and "-k" not in rest:
        # (-k patterns given replace the subset's; its skips stay.)
        for pattern in subset_patterns():
            rest += ["-k", pattern]

    try:
        import test.support  # noqa: F401
        import test._test_multiprocessing as mptests
    except ImportError as e:
        sys.stderr.write(
            "cpython-mp-runner.py: %s has no multiprocessing test suite "
            "(test._test_multiprocessing with test.support: %s)\n" % (sys.executable, e))
        sys.exit(4)

    # CPython's own layout when the interpreter ships it.
    name = "test.test_multiprocessing_" + method
    try:
        importlib.import_module(name)
        target = [name]
        module = None
    except ImportError as e:
        if e.name is not None and not name.startswith(e.name):
            raise
        # 3.11's test_multiprocessing_METHOD.py, which only does this.
        mptests.install_tests_in_module_dict(globals(), method)
        target = []
        module = "__main__"

    runner = unittest.TextTestRunner
    if results:
        runner = recording_runner(results)
    sys.stderr.write("cpython-mp-runner.py: Python %s, %s, tests of %s%s\n" % (
        sys.version.split()[0], method, name if module is None else "__main__ (install_tests_in_module_dict)",
        ", subset" if subset else ""))
    sys.stderr.flush()
    loader = SubsetLoader() if subset else unittest.TestLoader()
    unittest.main(module=module, argv=[sys.argv[0]] + rest + target, testRunner=runner,
                  testLoader=loader)


if __name__ == "__main__":
    main()
elif __name__ == "__mp_main__":
    # This file re-run in a spawned child or a fork server (as __mp_main__):
    # the classes that the parent installed into __main__ (3.11) must exist
    # here too, for the children to unpickle their targets. The start method
    # does not matter (only setUpModule uses it, which no child runs).
    import test._test_multiprocessing

    test._test_multiprocessing.install_tests_in_module_dict(globals(), "fork")
