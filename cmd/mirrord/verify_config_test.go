package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMirrord runs the real root command in-process.
func runMirrord(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

const configs = "../../testdata/configs"

func TestVerifyConfigCorpus(t *testing.T) {
	t.Setenv("MIRRORD_BRANCH_NAME", "feature/x")
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join(configs, dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".golden.json") || strings.HasSuffix(f, ".env") {
				continue
			}
			t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
				out, err := runMirrord(t, "", "verify-config", "--ide", "--resolved", f)
				if err != nil {
					t.Fatalf("verify-config must exit 0 for valid and invalid configs: %v\n%s", err, out)
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if _, ok := v["diagnostics"].([]any); !ok {
					t.Errorf("no diagnostics array: %s", out)
				}
				switch v["type"] {
				case "Success":
					if _, ok := v["config"].(map[string]any); !ok {
						t.Errorf("Success without config: %s", out)
					}
					if _, ok := v["resolved_config"].(map[string]any); !ok {
						t.Errorf("--resolved without resolved_config: %s", out)
					}
					if _, ok := v["compatible_target_types"].([]any); !ok {
						t.Errorf("Success without compatible_target_types")
					}
				case "Fail":
					errs, _ := v["errors"].([]any)
					if len(errs) == 0 {
						t.Errorf("Fail without errors: %s", out)
					}
				default:
					t.Errorf("type = %v", v["type"])
				}
				if dir == "valid" && v["type"] != "Success" && !strings.Contains(f, "env") {
					t.Errorf("valid config failed: %s", out)
				}
			})
		}
	}
}

func TestVerifyConfigContract(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, text string
		args             []string
		want             string
	}{
		{name: "pod target", file: "a.json", text: `{"target": "pod/api"}`,
			want: "\"path\": {\n      \"pod\": \"api\",\n      \"container\": null\n    }"},
		{name: "targetless without --ide", file: "b.json", text: `{}`,
			want: `"path": null`},
		// Operator settings are refused: this mirrord cannot honour them.
		{name: "label target", file: "c.yaml", text: "operator: true\ntarget: label/app=api\n",
			want: "`operator: true` requires the mirrord operator"},
		{name: "copy target refused", file: "d.toml", text: "operator = true\ntarget = \"deploy/a\"\n[feature]\ncopy_target = { scale_down = true }\n[feature.network]\nincoming = \"steal\"\n",
			want: "`feature.copy_target` requires the mirrord operator"},
		{name: "fail", file: "e.json", text: `{"feature": {"fs": "reed"}}`,
			want: `"errors": [` + "\n" + `    "Failed to verify mirrord config: `},
		{name: "warnings", file: "f.json", text: `{"target": "targetless", "agent": {"namespace": "x"}}`,
			want: `"warnings": [` + "\n" + `    "` + "`agent.namespace` is set in a targetless run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.file, tt.text)
			out, err := runMirrord(t, "", append([]string{"verify-config", p}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}

	// stdin is JSON.
	out, err := runMirrord(t, `{"target": "deploy/x"}`, "verify-config", "-")
	if err != nil || !strings.Contains(out, `"deployment": "x"`) {
		t.Errorf("stdin: %v\n%s", err, out)
	}

	// -o text: file:line:col lines, exit non-zero on errors.
	p := write("g.yaml", "feature:\n  fs: reed\n")
	out, err = runMirrord(t, "", "verify-config", "-o", "text", p)
	if err == nil || !strings.Contains(out, p+":2:7: error: `feature.fs`: unknown value `reed`") {
		t.Errorf("-o text: %v\n%s", err, out)
	}
	p = write("h.json", `{"target": "pod/a"}`)
	out, err = runMirrord(t, "", "verify-config", "-o", "text", p)
	if err != nil || !strings.Contains(out, ": ok") {
		t.Errorf("-o text ok: %v\n%s", err, out)
	}
	// A missing file is an error of the command.
	if _, err := runMirrord(t, "", "verify-config", filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSchemaCommand(t *testing.T) {
	out, err := runMirrord(t, "", "schema")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if v["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", v["$schema"])
	}
}
