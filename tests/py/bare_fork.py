"""Two children made by a bare os.fork(): one ends with os._exit(3), the
other returns normally; the parent reaps both with os.waitpid."""
import os
import sys

kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        print("child %d says hello" % i, flush=True)
        if i == 0:
            os._exit(3)
        sys.exit(0)
    kids.append(pid)
for pid in kids:
    _, status = os.waitpid(pid, 0)
    print("reaped", kids.index(pid), os.waitstatus_to_exitcode(status), flush=True)
print("done", flush=True)
