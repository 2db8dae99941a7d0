package supervisor

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestFilterDecisions runs the filter in x/net/bpf's VM over struct
// seccomp_data: which calls are notified, which run natively.
func TestFilterDecisions(t *testing.T) {
	prog := buildFilter(0xc000003e, []uint32{257, 42}, []uint32{44, 45})
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		raw[i] = bpf.RawInstruction{Op: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the filter does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	// seccomp_data; x/net/bpf loads words big-endian, the kernel in host
	// order: every field the filter reads is a 32-bit word, so each is
	// written big-endian here
	data := func(arch, nr uint32, arg4 uint64) []byte {
		b := make([]byte, 64)
		binary.BigEndian.PutUint32(b[0:], nr)
		binary.BigEndian.PutUint32(b[4:], arch)
		binary.BigEndian.PutUint32(b[16+8*4:], uint32(arg4))
		binary.BigEndian.PutUint32(b[16+8*4+4:], uint32(arg4>>32))
		return b
	}
	const notify, allow = unix.SECCOMP_RET_USER_NOTIF, unix.SECCOMP_RET_ALLOW
	for _, c := range []struct {
		name     string
		arch, nr uint32
		arg4     uint64
		want     uint32
	}{
		{"openat", 0xc000003e, 257, 0, notify},
		{"connect", 0xc000003e, 42, 0, notify},
		{"getppid", 0xc000003e, 110, 0, allow},
		{"sendto without an address (send)", 0xc000003e, 44, 0, allow},
		{"sendto with an address", 0xc000003e, 44, 0x7ffd_1234_5670, notify},
		{"sendto, address above 4 GiB only", 0xc000003e, 44, 0x1_0000_0000, notify},
		{"sendto, address below 4 GiB only", 0xc000003e, 44, 0x1000, notify},
		{"recvfrom with a source", 0xc000003e, 45, 0xdead_beef, notify},
		{"recvfrom without (recv)", 0xc000003e, 45, 0, allow},
		{"x32 openat", 0xc000003e, 257 | 0x40000000, 0, allow},
		{"i386 call", 0x40000003, 257, 0, allow},
	} {
		got, err := vm.Run(data(c.arch, c.nr, c.arg4))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if uint32(got) != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}
