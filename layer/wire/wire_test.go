package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestDecodeRequests(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.1.2.3:8080")
	v6 := netip.MustParseAddrPort("[fd00::1]:443")
	tests := []struct {
		name  string
		frame []byte
		want  any
	}{
		{"hello", NewRequest(OpHello).U32(10).U32(1).Str("python3").Str("python3\x00-c\x00").Str("/w").Str("/usr/bin/python3").Str("/root").Str("/tmp").Frame(),
			Hello{PID: 10, PPID: 1, Name: "python3", Cmdline: []string{"python3", "-c"}, Cwd: "/w", Exe: "/usr/bin/python3", Home: "/root", Tmp: "/tmp"}},
		{"open", NewRequest(OpOpen).U32(0x241).U32(0o644).Str("/app/x").Frame(), Open{Flags: 0x241, Mode: 0o644, Path: "/app/x"}},
		{"lstat", NewRequest(OpStat).U8(0).Str("/l").Frame(), Stat{Path: "/l"}},
		{"access", NewRequest(OpAccess).U32(4).Str("/a").Frame(), Access{Mode: 4, Path: "/a"}},
		{"readlink", NewRequest(OpReadLink).Str("/r").Frame(), ReadLink{Path: "/r"}},
		{"dns", NewRequest(OpDNS).U8(FamV4).Str("orders.internal").Frame(), DNS{Family: FamV4, Host: "orders.internal"}},
		{"connect v4", NewRequest(OpConnect).U8(ProtoTCP).Addr(v4).Frame(), Connect{Proto: ProtoTCP, Addr: v4}},
		{"connect v6", NewRequest(OpConnect).U8(ProtoUDP).Addr(v6).Frame(), Connect{Proto: ProtoUDP, Addr: v6}},
		{"connect unix", NewRequest(OpConnect).U8(ProtoUnix).U8(FamUnix).Str("/run/x.sock").Frame(), Connect{Proto: ProtoUnix, Path: "/run/x.sock"}},
		{"bind", NewRequest(OpBind).Addr(v4).Frame(), Bind{Addr: v4}},
		{"listen", NewRequest(OpListen).U16(80).Addr(v4).Frame(), Listen{RequestedPort: 80, Actual: v4}},
		{"unlisten", NewRequest(OpUnlisten).U16(80).U16(8080).Frame(), Unlisten{RequestedPort: 80, ActualPort: 8080}},
		{"accepted", NewRequest(OpAccepted).U16(8080).U16(40000).Frame(), Accepted{ListenerPort: 8080, PeerPort: 40000}},
		{"close file", NewRequest(OpCloseFile).U64(7).Frame(), CloseFile{Token: 7}},
		{"rename", NewRequest(OpPath).U8(PathRename).U32(0).Str("/a").Str("/b").Frame(), PathOp{Kind: PathRename, Path: "/a", NewPath: "/b"}},
		{"mkdir", NewRequest(OpPath).U8(PathMkdir).U32(0o755).Str("/d").Str("").Frame(), PathOp{Kind: PathMkdir, Mode: 0o755, Path: "/d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := ReadFrame(bytes.NewReader(tt.frame), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		wantOff int
		wantMsg string
	}{
		{"short header", []byte{2}, 0, "request header needs 4 bytes, have 1"},
		{"unknown op", []byte{99, 0, 0, 0}, 0, "unknown op"},
		{"truncated path", []byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 'a'}, 14, "need 9 bytes, have 1"},
		{"bad family", NewRequest(OpBind).U8(9).U16(1).Bytes(make([]byte, 16)).Frame()[4:], 4, "address family 9: want 4 or 6"},
		{"trailing", append(NewRequest(OpReadLink).Str("/r").Frame()[4:], 1), 8, "1 trailing bytes"},
		{"nul in path", NewRequest(OpReadLink).Str("/a\x00b").Frame()[4:], 10, "path contains a NUL byte"},
		{"bad proto", NewRequest(OpConnect).U8(7).Frame()[4:], 4, "protocol 7: want 1 (tcp), 2 (udp) or 3 (unix)"},
		{"bad path op", NewRequest(OpPath).U8(9).U32(0).Str("/a").Str("").Frame()[4:], 4, "path operation 9: want 1-4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.payload)
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if we.Offset != tt.wantOff || we.Msg != tt.wantMsg {
				t.Fatalf("got offset %d %q, want %d %q", we.Offset, we.Msg, tt.wantOff, tt.wantMsg)
			}
		})
	}
}

func TestReadFrameLimits(t *testing.T) {
	big := []byte{0xff, 0xff, 0xff, 0x7f}
	if _, err := ReadFrame(bytes.NewReader(big), nil); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	short := []byte{5, 0, 0, 0, 1}
	if _, err := ReadFrame(bytes.NewReader(short), nil); err == nil {
		t.Fatal("truncated frame accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(NewRequest(OpHello).U32(1).U32(1).Str("a").Str("a\x00").Str("/").Str("/a").Str("/h").Str("/t").Frame()[4:])
	f.Add(NewRequest(OpConnect).U8(ProtoTCP).Addr(netip.MustParseAddrPort("1.2.3.4:5")).Frame()[4:])
	f.Add(NewRequest(OpOpen).U32(0).U32(0).Str("/x").Frame()[4:])
	f.Add(NewRequest(OpCloseFile).U64(1).Frame()[4:])
	f.Add(NewRequest(OpPath).U8(PathRename).U32(0).Str("/a").Str("/b").Frame()[4:])
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, err := Decode(payload)
		if err == nil && v == nil {
			t.Fatal("nil request without error")
		}
	})
}
