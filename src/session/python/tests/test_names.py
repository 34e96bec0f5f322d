import sys
import unittest

import probed  # noqa: F401 (the probe's source on the path)
from _mpdash_probe import names


def made():
    # What the probe names an object made by the caller's line.
    return names.name_at(sys._getframe(1))


def made_pair():
    return names.name_at(sys._getframe(1), pair=True)


class Made(object):
    def __init__(self):
        self.name = names.name_at(sys._getframe(1))

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


class Names(unittest.TestCase):
    def test_an_assignment_names_it(self):
        q = made()
        self.assertEqual(q, "q")
        self.queue = made()
        self.assertEqual(self.queue, "queue")
        typed: str = made()
        self.assertEqual(typed, "typed")

    def test_with_as_names_it(self):
        with Made() as pool:
            self.assertEqual(pool.name, "pool")

    def test_each_of_an_unpacking_gets_its_own_name(self):
        a, b = made(), made()
        self.assertEqual((a, b), ("a", "b"))

    def test_a_pipe_names_both_ends(self):
        parent_conn, child_conn = made_pair(), None
        self.assertEqual(parent_conn, "parent_conn ⇄ child_conn")

    def test_an_unnamed_object_has_no_name(self):
        self.assertIsNone(made())
        self.assertEqual([made()], [None])
        self.assertFalse(made() == "x")


if __name__ == "__main__":
    unittest.main()
