package files

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
		code     protocol.ErrorCode
	}{
		{"/etc/hosts", "etc/hosts", ""},
		{"etc//hosts/", "etc/hosts", ""},
		{"/", ".", ""},
		{"/a/../b", "b", ""},
		{"/a/./b/..", "a", ""},
		{"/..", "", protocol.CodeForbidden},
		{"/a/../../etc", "", protocol.CodeForbidden},
		{"..", "", protocol.CodeForbidden},
		{"", "", protocol.CodeBadRequest},
		{"/a\x00b", "", protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		var pe *protocol.Error
		if tt.code != "" {
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Errorf("Clean(%q) = %q, %v; want code %s", tt.in, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSymlinksStayInRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644)
	root := t.TempDir()
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "abs"))
	os.Symlink("../../../../../../../../"+strings.TrimPrefix(outside, "/")+"/secret", filepath.Join(root, "rel"))
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.Symlink("/", filepath.Join(root, "d/up"))
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []string{"/abs", "/rel", "/d/up/../" + strings.TrimPrefix(outside, "/") + "/secret"} {
		_, data, err := r.Do(protocol.FileRequest{Op: protocol.OpReadFile, Path: p})
		if err == nil || strings.Contains(string(data), "host secret") {
			t.Errorf("read %s = %q, %v: escaped the root", p, data, err)
		}
	}
	// Creating through a symlinked directory lands inside the root.
	h, _, err := r.Open("/d/up/created", protocol.OWronly|protocol.OCreat, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := os.Stat(filepath.Join(root, "created")); err != nil {
		t.Fatalf("file created through /d/up is not at the root: %v", err)
	}
	if _, _, err := r.Open("/x", protocol.ORdonly|0x200000 /* O_PATH */, 0); err == nil {
		t.Fatal("unsupported open flag accepted")
	}
}

func TestParseDirents(t *testing.T) {
	rec := func(ino uint64, typ byte, name string) []byte {
		reclen := (19 + len(name) + 1 + 7) &^ 7
		b := make([]byte, reclen)
		binary.NativeEndian.PutUint64(b, ino)
		binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
		b[18] = typ
		copy(b[19:], name)
		return b
	}
	buf := append(rec(1, 4, "."), rec(42, 8, "file.txt")...)
	got, err := ParseDirents(buf)
	if err != nil || len(got) != 2 || got[1] != (protocol.DirEntry{Name: "file.txt", Ino: 42, Type: 8}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := ParseDirents(buf[:len(buf)-3]); err == nil {
		t.Fatal("truncated record accepted")
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"/etc/hosts", "../x", "/a/../../b", "a/./b//c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := Clean(p)
		if err != nil {
			return
		}
		if strings.HasPrefix(rel, "/") || rel == ".." || strings.HasPrefix(rel, "../") {
			t.Fatalf("Clean(%q) = %q leaves the root", p, rel)
		}
	})
}

func FuzzParseDirents(f *testing.F) {
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseDirents(b)
	})
}
