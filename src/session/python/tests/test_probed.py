# The probe in a real process: what it writes, that it counts exactly, and
# that the program sees nothing of it.

import textwrap
import unittest

import probed
from probed import ff


def program(text):
    return textwrap.dedent(text).lstrip()


class StartUp(unittest.TestCase):
    def test_a_program_without_multiprocessing_loads_no_concern_of_the_probe(self):
        r = probed.run(program("""
            import sys
            mods = sorted(m for m in sys.modules if m.startswith(("_mpdash_probe", "multiprocessing")))
            print(" ".join(mods))
            print(sys.dont_write_bytecode)
        """), env={"PYTHONDONTWRITEBYTECODE": "1"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        mods, flag = r.stdout.splitlines()
        for concern in ("queues", "locks", "connections", "shared", "pools", "managers", "names"):
            self.assertNotIn("_mpdash_probe." + concern, mods.split())
        self.assertNotIn("multiprocessing", mods.split())
        # The program's own setting, left as it was; the probe's bytecode is
        # cached in the run's directory all the same.
        self.assertEqual(flag, "True")
        self.assertTrue(any(f.startswith("_mpdash_probe/__pycache__/core.") for f in r.site), r.site)
        main = [p for p in r.all("proc") if p["role"] == "main"]
        self.assertEqual(len(main), 1, r.records)
        self.assertEqual(r.all("thread")[0]["name"], "MainThread")

    def test_without_the_probe_directory_nothing_is_done(self):
        r = probed.run("import sys; print('_mpdash_probe.start' in sys.modules)",
                       env={"MPDASH_PROBE_DIR": ""})
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "False\n", ""))

    def test_nothing_is_printed_in_development_mode_nor_under_w_error(self):
        r = probed.run(program("""
            import multiprocessing as mp
            def child(q, lk):
                with lk:
                    q.put(1)
            if __name__ == "__main__":
                q, lk = mp.Queue(), mp.Lock()
                p = mp.Process(target=child, args=(q, lk))
                p.start()
                print(q.get())
                p.join()
        """), python_args=["-X", "dev", "-W", "error"])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "1\n", ""))


class Counts(unittest.TestCase):
    def test_locks_are_counted_each_way_and_a_contended_acquire_too(self):
        r = probed.run(program("""
            import multiprocessing as mp, threading, time
            if __name__ == "__main__":
                lk = mp.Lock()
                for _ in range(3):
                    with lk:
                        pass
                lk.acquire()
                lk.release()
                assert lk.acquire(False)
                assert not lk.acquire(False)
                t = threading.Timer(0.2, lk.release)
                t.start()
                with lk:
                    pass
                t.join()
                rl = mp.RLock()
                with rl:
                    with rl:
                        pass
                print(type(lk).__enter__ is type(rl).__enter__)
        """))
        self.assertEqual(r.returncode, 0, r.stderr)
        lk = r.counts("lk")
        self.assertEqual((lk[ff.ACQUIRED], lk[ff.RELEASED], lk[ff.CONTENDED]), (6, 6, 1), lk)
        rl = r.counts("rl")
        self.assertEqual((rl[ff.ACQUIRED], rl[ff.RELEASED]), (2, 2), rl)
        self.assertEqual(r.obj("lk")["kind"], "Lock")
        self.assertEqual(r.obj("rl")["kind"], "RLock")

    def test_a_forked_child_counts_into_its_own_file(self):
        r = probed.run(program("""
            import multiprocessing as mp, os
            def child(lk):
                for _ in range(3):
                    with lk:
                        pass
            if __name__ == "__main__":
                mp.set_start_method("fork")
                lk = mp.Lock()
                with lk:
                    pass
                p = mp.Process(target=child, args=(lk,))
                p.start()
                p.join()
                pid = os.fork()
                if pid == 0:
                    lk.acquire()
                    lk.release()
                    os._exit(0)
                os.waitpid(pid, 0)
                print(p.pid, pid)
        """))
        self.assertEqual(r.returncode, 0, r.stderr)
        child, forked = map(int, r.stdout.split())
        oid = r.obj("lk")["id"]
        self.assertEqual(r.slots[r.main_pid()][oid][ff.ACQUIRED], 1)
        self.assertEqual(r.slots[child][oid][ff.ACQUIRED], 3)
        self.assertEqual(r.slots[forked][oid][ff.ACQUIRED], 1)
        self.assertEqual(r.counts("lk")[ff.RELEASED], 5)

    def test_queues_count_every_put_get_and_task_done(self):
        r = probed.run(program("""
            import multiprocessing as mp
            def consume(jq):
                while True:
                    x = jq.get()
                    jq.task_done()
                    if x is None:
                        break
            if __name__ == "__main__":
                q = mp.Queue()
                for i in range(10):
                    q.put(i)
                got = [q.get() for _ in range(10)]
                jq = mp.JoinableQueue()
                c = mp.Process(target=consume, args=(jq,))
                c.start()
                for i in range(5):
                    jq.put(i)
                jq.put(None)
                jq.join()
                c.join()
                sq = mp.SimpleQueue()
                sq.put(1)
                sq.get()
                print(sum(got))
        """))
        self.assertEqual((r.returncode, r.stdout), (0, "45\n"), r.stderr)
        q = r.counts("q")
        self.assertEqual((q[ff.PUTS], q[ff.GETS]), (10, 10))
        jq = r.counts("jq")
        self.assertEqual((jq[ff.PUTS], jq[ff.GETS], jq[ff.TASKS_DONE]), (6, 6, 6))
        self.assertEqual([k for k in r.all("kind") if k["id"] == r.obj("jq")["id"]][0]["kind"],
                         "JoinableQueue")
        sq = r.counts("sq")
        self.assertEqual((sq[ff.PUTS], sq[ff.GETS]), (1, 1))

    def test_a_pipe_counts_messages_and_bytes_each_way(self):
        r = probed.run(program("""
            import multiprocessing as mp
            if __name__ == "__main__":
                a, b = mp.Pipe()
                for i in range(4):
                    a.send_bytes(b"xy")
                for i in range(4):
                    b.recv_bytes()
                b.send_bytes(b"abc")
                a.recv_bytes()
        """))
        self.assertEqual(r.returncode, 0, r.stderr)
        p = r.counts("a ⇄ b")
        self.assertEqual(p[ff.SENT_0:ff.BYTES_1 + 1], [4, 8, 1, 3])


class ExitStatus(unittest.TestCase):
    def test_a_child_s_end_says_the_status_it_exits_with(self):
        r = probed.run(program("""
            import multiprocessing as mp, sys
            def leave(code):
                sys.stderr = open("/dev/null", "w")
                sys.exit(code)
            if __name__ == "__main__":
                mp.set_start_method("fork")
                for code in (True, False, None, 3, "bye"):
                    p = mp.Process(target=leave, args=(code,))
                    p.start()
                    p.join()
                    print(p.pid, p.exitcode)
        """))
        self.assertEqual(r.returncode, 0, r.stderr)
        ends = dict((e["pid"], e["code"]) for e in r.all("end"))
        want = []
        for line in r.stdout.splitlines():
            pid, code = map(int, line.split())
            want.append(code)
            self.assertIs(type(ends[pid]), int, ends)
            self.assertEqual(ends[pid], code, ends)
        self.assertEqual(want, [1, 0, 0, 3, 1])

    def test_bare_forks_are_named_under_their_forker_with_the_status_measured(self):
        # A fork of a fork numbers its own forks from 1; os._exit's code is
        # said by the child, the status its parent reaps by the parent; a
        # subprocess preexec_fn's child (it execs) is no fork of the program;
        # a multiprocessing fork child says who it is itself.
        r = probed.run(program("""
            import multiprocessing as mp, os, subprocess, sys
            def child():
                pass
            if __name__ == "__main__":
                mp.set_start_method("fork")
                p = mp.Process(target=child, name="mp child")
                p.start()
                p.join()
                kids = []
                for i in range(2):
                    pid = os.fork()
                    if pid == 0:
                        if i == 1:
                            g = os.fork()
                            if g == 0:
                                os._exit(9)
                            os.waitpid(g, 0)
                            print("g", g, flush=True)
                        os._exit(3 + i)
                    kids.append(pid)
                for k in kids:
                    os.waitpid(k, 0)
                    print("k", k, flush=True)
                s = subprocess.run(["true"], preexec_fn=lambda: None)
                print("s", s.pid if hasattr(s, "pid") else 0, s.returncode)
        """))
        self.assertEqual(r.returncode, 0, r.stderr)
        procs = dict((p["pid"], p) for p in r.all("proc"))
        lines = [line.split() for line in r.stdout.splitlines()]
        kids = [int(pid) for t, pid in [x[:2] for x in lines] if t == "k"]
        grand = [int(x[1]) for x in lines if x[0] == "g"][0]
        main = r.main_pid()
        names = [procs[k]["name"] for k in kids]
        self.assertEqual(names, ["fork 1 of MainProcess", "fork 2 of MainProcess"])
        self.assertEqual(procs[grand]["name"], "fork 1 of fork 2 of MainProcess")
        self.assertEqual(procs[grand]["ppid"], kids[1])
        for k in kids:
            self.assertEqual((procs[k]["ppid"], procs[k]["role"], procs[k]["method"]),
                             (main, "process", "fork"))
        self.assertIn("mp child", [p["name"] for p in procs.values()])
        ends = dict((e["pid"], e["code"]) for e in r.all("end"))
        exits = dict((e["pid"], e["code"]) for e in r.all("exit"))
        self.assertEqual([ends[k] for k in kids], [3, 4])
        self.assertEqual([exits[k] for k in kids], [3, 4])
        self.assertEqual((ends[grand], exits[grand]), (9, 9))
        # Only the program's forks are named forks.
        forks = [p for p in procs.values() if p["name"].startswith("fork ")]
        self.assertEqual(len(forks), 3, forks)

class Pickling(unittest.TestCase):
    def test_objects_handed_to_spawn_and_forkserver_children_keep_their_ids(self):
        for method in probed.start_methods():
            with self.subTest(method=method):
                r = probed.run(program("""
                    import multiprocessing as mp, sys
                    def child(jq, lk, conn, n):
                        with lk:
                            jq.put(n)
                        conn.send_bytes(b"ok")
                    if __name__ == "__main__":
                        mp.set_start_method(sys.argv[1])
                        jq, lk = mp.JoinableQueue(), mp.Lock()
                        here, there = mp.Pipe()
                        p = mp.Process(target=child, args=(jq, lk, there, 7))
                        p.start()
                        print(jq.get(), here.recv_bytes().decode())
                        jq.task_done()
                        p.join()
                        print(p.exitcode)
                """), args=[method])
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "7 ok\n0\n", ""))
                self.assertEqual(r.counts("jq")[ff.PUTS], 1)
                self.assertEqual(r.counts("jq")[ff.GETS], 1)
                self.assertEqual(r.counts("lk")[ff.ACQUIRED], 1)
                self.assertEqual(r.counts("here ⇄ there")[ff.SENT_1], 1)


if __name__ == "__main__":
    unittest.main()
