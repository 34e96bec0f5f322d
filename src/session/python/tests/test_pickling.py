import pickle
import unittest

import probed  # noqa: F401 (the probe's source on the path)
from _mpdash_probe import pickling


class Plain(object):
    def __init__(self, x):
        self.x = x


class Stated(object):
    def __init__(self, x):
        self.x = x

    def __getstate__(self):
        return (self.x,)

    def __setstate__(self, state):
        (self.x,) = state


class MoreStated(Stated):
    # A subclass whose state adds to its parent's (as JoinableQueue's).
    def __init__(self, x, y):
        Stated.__init__(self, x)
        self.y = y

    def __getstate__(self):
        return Stated.__getstate__(self) + (self.y,)

    def __setstate__(self, state):
        Stated.__setstate__(self, state[:-1])
        self.y = state[-1]


for cls in (Plain, Stated, MoreStated):
    pickling.carry_id(cls)


class CarriedIds(unittest.TestCase):
    def test_an_object_without_an_id_pickles_as_without_the_probe(self):
        for obj in (Plain(1), Stated(2), MoreStated(3, 4)):
            data = pickle.dumps(obj)
            self.assertNotIn(b"_mpdash_probe", data)
            back = pickle.loads(data)
            self.assertEqual(vars(back), vars(obj))

    def test_an_id_rides_beside_the_state_never_inside_it(self):
        for obj in (Plain(1), Stated(2), MoreStated(3, 4)):
            obj._mpdash_id = 77
            data = pickle.dumps(obj)
            self.assertIn(b"_mpdash_probe.pickling", data)
            back = pickle.loads(data)
            self.assertIs(type(back), type(obj))
            self.assertEqual(back._mpdash_id, 77)
            self.assertEqual(vars(back), vars(obj))

    def test_a_pool_id_rides_too(self):
        obj = MoreStated(1, 2)
        obj._mpdash_pool = 5
        back = pickle.loads(pickle.dumps(obj))
        self.assertEqual((back._mpdash_pool, back.x, back.y), (5, 1, 2))
        self.assertFalse(hasattr(back, "_mpdash_id") and back.__dict__.get("_mpdash_id"))

    def test_a_class_with_its_own_reduce_is_left_alone(self):
        class Own(object):
            def __reduce_ex__(self, protocol):
                return (Own, ())

        reduce = Own.__dict__["__reduce_ex__"]
        pickling.carry_id(Own)
        self.assertIs(Own.__dict__["__reduce_ex__"], reduce)

    def test_a_rebuilt_pipe_end_is_handed_to_the_hook(self):
        seen = []
        pickling.hooks["connection"] = lambda conn, oid, side: seen.append((conn, oid, side))
        try:
            conn = pickling.rebuild_connection(lambda a, b: (a, b), (1, 2), 9, 1)
        finally:
            pickling.hooks.pop("connection")
        self.assertEqual(conn, (1, 2))
        self.assertEqual(seen, [((1, 2), 9, 1)])

    def test_a_failing_hook_never_breaks_the_unpickling(self):
        def hook(conn, oid, side):
            raise ValueError("no")

        pickling.hooks["connection"] = hook
        try:
            self.assertEqual(pickling.rebuild_connection(lambda: "end", (), 1, 0), "end")
        finally:
            pickling.hooks.pop("connection")


if __name__ == "__main__":
    unittest.main()
