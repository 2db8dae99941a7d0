package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiscover(t *testing.T) {
	type files map[string]string // relative path -> content ("" = dir when it ends in /)
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name       string
		files      files
		explicit   string
		env        func(string) (string, bool)
		wantPath   string // relative to the folder; "" for none
		wantSource string
		wantErr    string
	}{
		{name: "none", files: files{}, env: env(), wantSource: SourceNone},
		{name: "default json", files: files{".mirrord/mirrord.json": "{}"}, env: env(), wantPath: ".mirrord/mirrord.json", wantSource: SourceDefault},
		{name: "byte order first", files: files{".mirrord/b-mirrord.json": "{}", ".mirrord/a-mirrord.yaml": "", ".mirrord/Z-mirrord.toml": ""}, env: env(), wantPath: ".mirrord/Z-mirrord.toml", wantSource: SourceDefault},
		{name: "suffix required", files: files{".mirrord/config.json": "{}", ".mirrord/notes.txt": ""}, env: env(), wantSource: SourceNone},
		{name: "yml accepted", files: files{".mirrord/mirrord.yml": ""}, env: env(), wantPath: ".mirrord/mirrord.yml", wantSource: SourceDefault},
		{name: "directory named like a config is skipped", files: files{".mirrord/a-mirrord.json/": "", ".mirrord/b-mirrord.json": "{}"}, env: env(), wantPath: ".mirrord/b-mirrord.json", wantSource: SourceDefault},
		{name: "env relative to folder", files: files{"cfg/x.json": "{}", ".mirrord/mirrord.json": "{}"}, env: env("MIRRORD_CONFIG_FILE", "cfg/x.json"), wantPath: "cfg/x.json", wantSource: SourceEnv},
		{name: "env missing file", files: files{}, env: env("MIRRORD_CONFIG_FILE", "nope.json"), wantErr: "MIRRORD_CONFIG_FILE: "},
		{name: "blank env ignored", files: files{".mirrord/mirrord.json": "{}"}, env: env("MIRRORD_CONFIG_FILE", "  "), wantPath: ".mirrord/mirrord.json", wantSource: SourceDefault},
		{name: "explicit beats env", files: files{"a.json": "{}", "b.json": "{}"}, explicit: "a.json", env: env("MIRRORD_CONFIG_FILE", "b.json"), wantPath: "a.json", wantSource: SourceActive},
		{name: "explicit directory", files: files{"d/": ""}, explicit: "d", env: env(), wantErr: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, content := range tt.files {
				full := filepath.Join(dir, p)
				if strings.HasSuffix(p, "/") {
					if err := os.MkdirAll(full, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Discover(DiscoverOptions{Explicit: tt.explicit, WorkspaceFolder: dir, LookupEnv: tt.env})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != tt.wantSource {
				t.Errorf("source = %q, want %q", got.Source, tt.wantSource)
			}
			want := ""
			if tt.wantPath != "" {
				want = filepath.Join(dir, tt.wantPath)
			}
			if got.Path != want {
				t.Errorf("path = %q, want %q", got.Path, want)
			}
			if got.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}
