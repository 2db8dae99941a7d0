package supervisor

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSockaddr(t *testing.T) {
	v4 := []byte{2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	sa, ok := parseSockaddr(v4)
	if !ok || sa.Family != unix.AF_INET || sa.Addr != netip.MustParseAddrPort("10.0.0.1:8080") {
		t.Fatalf("v4: %+v %v", sa, ok)
	}
	if _, ok := parseSockaddr(v4[:15]); ok {
		t.Fatal("short AF_INET accepted")
	}
	v6 := make([]byte, 28)
	v6[0], v6[2], v6[3] = 10, 0, 53
	copy(v6[8:], netip.MustParseAddr("::ffff:192.0.2.1").AsSlice())
	sa, ok = parseSockaddr(v6)
	if !ok || sa.Family != unix.AF_INET6 || sa.Addr.Port() != 53 || sa.Addr.Addr().Unmap() != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("v6: %+v %v", sa, ok)
	}
	if sa, ok := parseSockaddr([]byte{1, 0, '/', 0}); !ok || sa.Family != unix.AF_UNIX {
		t.Fatalf("unix: %+v %v", sa, ok)
	}
}

// FuzzDecodeArgs: no input makes the argument decoders panic or read out
// of bounds, and what they accept is consistent.
func FuzzDecodeArgs(f *testing.F) {
	f.Add([]byte{2, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 80))
	f.Add([]byte("/etc/hosts\x00junk"))
	f.Add(make([]byte, remoteStatSize))
	f.Add([]byte{1, 0, 0, 0, 2, 0, 1, 2, 1, 0, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if sa, ok := parseSockaddr(b); ok {
			if len(b) < 2 || len(b) > maxSockaddr {
				t.Fatalf("accepted %d bytes", len(b))
			}
			if (sa.Family == unix.AF_INET || sa.Family == unix.AF_INET6) && sa.Addr.IsValid() {
				fam := unix.AF_INET
				if sa.Family == unix.AF_INET6 {
					fam = unix.AF_INET6
				}
				got, _ := addrOfSockaddr(encodeSockaddr(fam, sa.Addr))
				if got.Port() != sa.Addr.Port() || got.Addr().Unmap() != sa.Addr.Addr().Unmap() {
					t.Fatalf("round trip %v -> %v", sa.Addr, got)
				}
			}
		}
		if n, ok := decodeNotif(b); ok && len(b) >= notifSize && n.ID != le.Uint64(b) {
			t.Fatal("notification id")
		}
		if s, ok := cString(b); ok && len(s) >= len(b) {
			t.Fatal("cString past the NUL")
		}
		if st, ok := decodeStat(b); ok {
			if len(kernelStat(st)) != 144 || len(kernelStatx(st)) != 256 {
				t.Fatal("stat sizes")
			}
		}
		if h, err := parseHello(b); err == nil && len(h.rules) > len(b)/4 {
			t.Fatal("more rules than bytes")
		}
		_, _ = decodeAddr(b)
	})
}
