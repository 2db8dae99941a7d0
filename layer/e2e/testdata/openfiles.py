# openfiles.py DIR N: create N files once (when missing), then time (CPU time of the process, so a busy machine does not skew it) opening
# and reading all of them; prints "seconds X".
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = os.path.join(d, "f%05d" % i)
    if not os.path.exists(p):
        with open(p, "w") as f:
            f.write("x" * 64)
t0 = time.process_time()
for i in range(n):
    with open(os.path.join(d, "f%05d" % i)) as f:
        f.read()
print("seconds %.6f" % (time.process_time() - t0))
