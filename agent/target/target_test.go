package target

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFindContainerPID(t *testing.T) {
	proc := t.TempDir()
	id := "3f4a9c2e1b7d8a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f"
	cgroups := map[string]string{
		"1":    "0::/init.scope\n",
		"4242": "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope\n",
		"4300": "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope\n",
		"5000": "0::/kubepods.slice/other\n",
		"self": "0::/\n",
	}
	for pid, cg := range cgroups {
		os.MkdirAll(filepath.Join(proc, pid), 0o755)
		os.WriteFile(filepath.Join(proc, pid, "cgroup"), []byte(cg), 0o644)
	}
	tests := []struct {
		id      string
		want    int
		wantErr bool
	}{
		{id, 4242, false},
		{"containerd://" + id, 4242, false},
		{id[:12], 4242, false},
		{"deadbeefdeadbeef", 0, true},
		{"short", 0, true},
	}
	for _, tt := range tests {
		got, err := FindContainerPID(proc, tt.id)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("FindContainerPID(%q) = %d, %v; want %d", tt.id, got, err, tt.want)
		}
	}
}

func TestParseEnviron(t *testing.T) {
	got := ParseEnviron([]byte("A=1\x00B=x=y\x00junk\x00=nope\x00A=2\x00"))
	want := map[string]string{"A": "2", "B": "x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestShortID(t *testing.T) {
	if got := ShortID("docker://abc-DEF_0123456789xyz"); got != "dockerabcDEF0123" {
		t.Fatalf("ShortID = %q", got)
	}
}

func FuzzParseEnviron(f *testing.F) {
	f.Add([]byte("A=1\x00B=2\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k := range ParseEnviron(b) {
			if k == "" {
				t.Fatal("empty name")
			}
		}
	})
}
