package session

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
)

// TestBinaryWarning: `mirrord ext -e` warns about a static program only
// where the supervisor cannot take it (layer_mode preload, or no
// supervisor on this platform); a dynamically linked one never.
func TestBinaryWarning(t *testing.T) {
	static, err := exec.LookPath("busybox") // Debian's busybox is static
	if err != nil {
		t.Skip("no busybox")
	}
	dynamic, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		exe, mode, want string
	}{
		{static, "preload", "and layer_mode is preload"},
		{dynamic, "preload", ""},
		{dynamic, "auto", ""},
		{"", "auto", ""},
		{"no-such-program-here", "preload", ""},
	} {
		if got := binaryWarning(c.exe, c.mode); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("binaryWarning(%q, %q) = %q, want %q", c.exe, c.mode, got, c.want)
		}
	}
	got := binaryWarning(static, "auto")
	if supervisor.Supported && got != "" {
		t.Errorf("a static program in auto mode: %q, want no warning (the supervisor takes it)", got)
	}
	if !supervisor.Supported && !strings.Contains(got, "not supported on this platform") {
		t.Errorf("a static program without a supervisor: %q", got)
	}
}
