# openfiles.py DIR N: create N files once (when missing), then open and read
# all of them in 5 rounds; prints "seconds X", the fastest round in CPU time
# of the process (so a busy machine skews it as little as possible).
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
paths = [os.path.join(d, "f%05d" % i) for i in range(n)]
for p in paths:
    if not os.path.exists(p):
        with open(p, "w") as f:
            f.write("x" * 64)
best = None
for _ in range(5):
    t0 = time.process_time()
    for p in paths:
        with open(p) as f:
            f.read()
    dt = time.process_time() - t0
    best = dt if best is None else min(best, dt)
print("seconds %.6f" % best)
