# The probe's own tests' helpers (not a test module): the probe installed
# as mpdash installs it (a private site/ with sitecustomize.py and the
# package, first on PYTHONPATH; MPDASH_PROBE_DIR), a program run under it,
# and what the probe wrote, read back.

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)

# The probe's pure modules, imported from the source (no bytecode written
# into the tree).
sys.dont_write_bytecode = True
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)

from _mpdash_probe import fileformat as ff  # noqa: E402


def install(root):
    site, out = os.path.join(root, "site"), os.path.join(root, "out")
    os.makedirs(os.path.join(site, "_mpdash_probe"), mode=0o700)
    os.makedirs(out, mode=0o700)
    shutil.copy(os.path.join(SOURCE, "sitecustomize.py"), site)
    package = os.path.join(SOURCE, "_mpdash_probe")
    for name in os.listdir(package):
        if name.endswith(".py"):
            shutil.copy(os.path.join(package, name), os.path.join(site, "_mpdash_probe"))
    return site, out


class Run(object):
    def __init__(self, proc, records, slots, site):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        # pid -> its records, in order.
        self.records = records
        # pid -> {object id: its 8 words}.
        self.slots = slots
        # What the run's site/ held at its end (relative paths).
        self.site = site

    def all(self, t):
        return [r for rs in self.records.values() for r in rs if r["t"] == t]

    def obj(self, name):
        found = [r for r in self.all("obj") if r["name"] == name]
        if len(found) != 1:
            raise AssertionError("%d objects named %r in %r" % (len(found), name, self.all("obj")))
        return found[0]

    def counts(self, name):
        # An object's words summed over every process that counted it.
        oid = self.obj(name)["id"]
        total = [0] * ff.WORDS
        for by_id in self.slots.values():
            words = by_id.get(oid)
            if words is not None:
                total = [a + b for a, b in zip(total, words)]
        return total

    def main_pid(self):
        return [r["pid"] for r in self.all("proc") if r["role"] == "main"][0]


def read_slots(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != ff.SIZE or data[:8] != ff.MAGIC:
        raise AssertionError("%s: not the probe's layout" % path)
    out = {}
    for i in range(ff.OBJ_SLOTS):
        at = ff.OBJ_AT + i * ff.SLOT
        words = list(struct.unpack_from("<%dq" % ff.WORDS, data, at))
        if words[0] == 0:
            break
        out[words[0]] = words
    return out


def run(source, args=(), python_args=(), env=None, timeout=120, probe=True):
    # Runs `source` as prog.py under the probe; returns a Run.
    root = tempfile.mkdtemp(prefix="mpdash-probe-unittest-")
    try:
        site, out = install(root)
        prog = os.path.join(root, "prog.py")
        with open(prog, "w") as f:
            f.write(source)
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        if probe:
            e["PYTHONPATH"] = site
            e["MPDASH_PROBE_DIR"] = out
        e.update(env or {})
        proc = subprocess.run([sys.executable] + list(python_args) + [prog] + list(args),
                              cwd=root, env=e, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, universal_newlines=True)
        records, slots = {}, {}
        for name in sorted(os.listdir(out)):
            path = os.path.join(out, name)
            if name.endswith(".jsonl"):
                with open(path) as f:
                    records[int(name[1:-6])] = [json.loads(line) for line in f]
            elif name.endswith(".bin"):
                slots[int(name[1:-4])] = read_slots(path)
        files = []
        for d, _, names in os.walk(site):
            files.extend(os.path.relpath(os.path.join(d, n), site) for n in names)
        return Run(proc, records, slots, sorted(files))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def start_methods():
    import multiprocessing
    return multiprocessing.get_all_start_methods()
