// Package editortest holds what the real-editor tests (neovim, Vim, Emacs)
// share: laying out a workspace, and running an editor whose driver script
// writes its findings as JSON to a file.
package editortest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// WriteTree writes files (paths relative to root, with their text) under
// root, creating directories as needed.
func WriteTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// RunJSON runs the editor cmd to its end, then decodes the JSON its driver
// wrote to out into result. It fails the test, naming editor and showing
// its output, when the editor fails or leaves no readable result. It
// returns the editor's combined output.
func RunJSON(t testing.TB, editor string, cmd *exec.Cmd, out string, result any) []byte {
	t.Helper()
	cmd.WaitDelay = 5 * time.Second
	combined, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", editor, err, combined)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no result from %s: %v\n%s", editor, err, combined)
	}
	if err := json.Unmarshal(data, result); err != nil {
		t.Fatalf("result %s: %v", data, err)
	}
	return combined
}
