package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// corpusEnv reads the environment of a corpus config (NAME.env next to
// it), as the schema's corpus tests do.
func corpusEnv(t *testing.T, path string) func(string) (string, bool) {
	t.Helper()
	env := map[string]string{}
	b, err := os.ReadFile(strings.TrimSuffix(path, filepath.Ext(path)) + ".env")
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && k != "_IDE" {
				env[k] = v
			}
		}
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestCorpusVerifyAndRunAgree runs every config of testdata/configs (valid
// and invalid) through verify (schema.Verify) and through what a session
// runs (Load: the resolved config turned into settings.Settings): a config is
// accepted by both or refused by both, and everything the runtime refuses
// is a verify error at the setting (V-UNSUPPORTED).
func TestCorpusVerifyAndRunAgree(t *testing.T) {
	var files []string
	for _, dir := range []string{"valid", "invalid"} {
		entries, err := os.ReadDir(filepath.Join("..", "testdata", "configs", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".json", ".yaml", ".yml", ".toml":
				if !strings.HasSuffix(e.Name(), ".golden.json") {
					files = append(files, filepath.Join("..", "testdata", "configs", dir, e.Name()))
				}
			}
		}
	}
	if len(files) < 150 {
		t.Fatalf("only %d corpus configs", len(files))
	}
	var accepted, refused, unsupported int
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			env := corpusEnv(t, path)
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := schema.Verify(context.Background(), text, schema.Options{Path: path, Env: env})
			verifyOK := !res.HasErrors()
			// What a session does with the verified config (session.ResolveConfig).
			runErr := errors.New("the config has errors")
			if !res.HasErrors() && res.Config != nil {
				_, runErr = runtimeSettings(res.Config)
			}
			if verifyOK != (runErr == nil) {
				t.Fatalf("verify accepts: %v, run accepts: %v (%v)", verifyOK, runErr == nil, runErr)
			}
			if verifyOK {
				accepted++
			} else {
				refused++
			}
			// What the runtime refuses is reported by verify at the setting.
			var errPtrs []string
			for _, d := range res.Errors() {
				if d.Code == "V-UNSUPPORTED" {
					errPtrs = append(errPtrs, d.Pointer)
				}
			}
			if res.File == nil {
				return
			}
			if len(errPtrs) > 0 {
				unsupported++
			}
			for _, ptr := range errPtrs {
				if !strings.HasPrefix(ptr, "/") {
					t.Errorf("V-UNSUPPORTED without the setting's place: %q", ptr)
				}
			}
		})
	}
	t.Logf("%d configs: %d accepted by both, %d refused by both, %d with unsupported settings", len(files), accepted, refused, unsupported)
	if unsupported < 10 {
		t.Errorf("only %d corpus configs exercise unsupported settings", unsupported)
	}
}
