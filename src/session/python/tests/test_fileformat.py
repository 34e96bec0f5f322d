import json
import unittest

from probed import ff


class Records(unittest.TestCase):
    def test_a_record_is_what_json_dumps_writes(self):
        records = [
            {"t": "proc", "pid": 12, "ppid": 1, "name": "MainProcess", "role": "main",
             "method": None, "t0": 123456789012345},
            {"t": "obj", "id": (1 << 62) - 1, "kind": "Pipe", "name": "a ⇄ b", "at": "prog.py:3",
             "duplex": True, "lock": False},
            {"t": "values", "id": 1, "values": ["'x\"y'", "b'\\x00'", "1.5", "é\n\t\x01"]},
            {"t": "end", "pid": 3, "code": 0, "cpu_s": 0.015625},
            {"t": "cpu", "pid": 3, "cpu_s": 1e-07},
            {"t": "x", "nested": {"a": [1, 2.5, None, [True]]}, "neg": -3},
        ]
        for r in records:
            self.assertEqual(ff.line(r), (json.dumps(r, separators=(",", ":")) + "\n").encode())

    def test_what_json_cannot_write_is_refused(self):
        with self.assertRaises(TypeError):
            ff.line({"t": "x", "v": object()})

    def test_an_exit_code_is_the_status_python_exits_with(self):
        self.assertEqual(ff.exit_code(None), 0)
        self.assertEqual(ff.exit_code(False), 0)
        self.assertEqual(ff.exit_code(True), 1)
        self.assertEqual(type(ff.exit_code(True)), int)
        self.assertEqual(ff.exit_code(3), 3)
        self.assertEqual(ff.exit_code(256), 0)
        self.assertEqual(ff.exit_code(-1), 255)
        self.assertEqual(ff.exit_code("bye"), 1)
        self.assertEqual(ff.exit_code(2.0), 1)


class Layout(unittest.TestCase):
    def test_the_slots_fill_the_file(self):
        self.assertEqual(ff.SLOT, 8 * ff.WORDS)
        self.assertEqual(ff.SIZE, ff.OBJ_AT + (ff.OBJ_SLOTS + ff.WAIT_SLOTS) * ff.SLOT)
        self.assertEqual(len(ff.MAGIC), 8)

    def test_the_wait_operations_are_numbered_from_one(self):
        ops = [ff.GET, ff.PUT, ff.JOIN_QUEUE, ff.RECV, ff.ACQUIRE, ff.COND_WAIT, ff.EVENT_WAIT,
               ff.BARRIER_WAIT, ff.JOIN, ff.POOL_RESULT, ff.MANAGER_CALL, ff.FLUSH]
        self.assertEqual(ops, list(range(1, 13)))

    def test_counters_are_words_of_a_slot(self):
        for field in (ff.PUTS, ff.GETS, ff.TASKS_DONE, ff.ACQUIRED, ff.CONTENDED, ff.RELEASED,
                      ff.SETS, ff.SET_AT, ff.CLEARED_AT, ff.TOTAL, ff.SINCE, ff.BYTES_1):
            self.assertTrue(1 <= field < ff.WORDS, field)


if __name__ == "__main__":
    unittest.main()
