# sendsink.py HOST PORT MIB: send MIB MiB to a sink that answers with the
# byte count after EOF; prints "mib_per_s X".
import socket, sys, time
host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = b"\0" * (1 << 20)
t0 = time.perf_counter()
c = socket.create_connection((host, port), timeout=60)
for _ in range(mib):
    c.sendall(chunk)
c.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = c.recv(64)
    if not b:
        break
    got += b
dt = time.perf_counter() - t0
if int(got) != mib << 20:
    sys.exit("sink counted %s bytes, sent %d" % (got, mib << 20))
print("mib_per_s %.1f" % (mib / dt))
