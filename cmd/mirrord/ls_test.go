package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
	"github.com/mirrord-ls/mirrord-ls/kube/listing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestLsKinds(t *testing.T) {
	tests := []struct {
		flags   []string
		env     map[string]string
		want    []targetpath.Kind
		wantErr string
	}{
		{want: listing.OpenSourceKinds},
		{flags: []string{"deploy", "Pod", "deployment"}, want: []targetpath.Kind{"deployment", "pod"}},
		{env: map[string]string{"MIRRORD_LS_TARGET_TYPES": `["statefulset","service"]`}, want: []targetpath.Kind{"statefulset", "service"}},
		{flags: []string{"job"}, env: map[string]string{"MIRRORD_LS_TARGET_TYPES": `["service"]`}, want: []targetpath.Kind{"job"}},
		{env: map[string]string{"MIRRORD_LS_TARGET_TYPES": `pod`}, wantErr: "must be a JSON array"},
		{flags: []string{"label"}, wantErr: `unknown target type "label"; listable types: pod, deployment, rollout`},
		{flags: []string{"targetless"}, wantErr: "unknown target type"},
	}
	for _, tt := range tests {
		got, err := lsKinds(tt.flags, envOf(tt.env))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("lsKinds(%q, %v): error %v, want %q", tt.flags, tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("lsKinds(%q, %v) = %v, %v; want %v", tt.flags, tt.env, got, err, tt.want)
		}
	}
}

func expected(want map[string][]string, kinds ...targetpath.Kind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, want[string(k)]...)
	}
	return out
}

func TestLsRealCluster(t *testing.T) {
	c := kubetest.Start(t)
	ns := c.Namespace(t)
	want := c.PopulateTargets(t, ns)
	c.GrantLimited(t, ns, rbacv1.PolicyRule{APIGroups: []string{"", "apps"},
		Resources: []string{"pods", "deployments", "statefulsets", "services"}, Verbs: []string{"list"}})
	dir := t.TempDir()
	writeConfig := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nsConfig := writeConfig("ns.json", `{"target": {"namespace": "`+ns+`"}}`)
	limitedConfig := writeConfig("limited.yaml", "kube_context: mirrord-local-limited\ntarget:\n  namespace: "+ns+"\n")
	badConfig := writeConfig("bad.json", `{"target": {"namespace": 5}}`)
	run := func(t *testing.T, f lsFlags, vars map[string]string) (string, string, error) {
		t.Helper()
		env := map[string]string{"KUBECONFIG": c.Kubeconfig, "HOME": dir}
		for k, v := range vars {
			env[k] = v
		}
		var stdout, stderr bytes.Buffer
		err := runLs(context.Background(), f, envOf(env), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	plain := func(t *testing.T, out string) []string {
		t.Helper()
		var paths []string
		if err := json.Unmarshal([]byte(out), &paths); err != nil {
			t.Fatalf("output %q is not a JSON array: %v", out, err)
		}
		return paths
	}

	t.Run("plain", func(t *testing.T) {
		out, _, err := run(t, lsFlags{output: "json", namespace: ns}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := plain(t, out), expected(want.Available, listing.OpenSourceKinds...); !slices.Equal(got, w) {
			t.Errorf("got %q\nwant %q", got, w)
		}
	})

	t.Run("types from flags and env", func(t *testing.T) {
		out, _, err := run(t, lsFlags{output: "json", namespace: ns, targetTypes: []string{"statefulset", "service"}},
			map[string]string{"MIRRORD_LS_TARGET_TYPES": `["pod"]`})
		if err != nil {
			t.Fatal(err)
		}
		if got, w := plain(t, out), expected(want.Available, "statefulset", "service"); !slices.Equal(got, w) {
			t.Errorf("flags: got %q want %q", got, w)
		}
		out, _, err = run(t, lsFlags{output: "json", namespace: ns}, map[string]string{"MIRRORD_LS_TARGET_TYPES": `["replicaset","deployment"]`})
		if err != nil {
			t.Fatal(err)
		}
		if got, w := plain(t, out), expected(want.Available, "deployment", "replicaset"); !slices.Equal(got, w) {
			t.Errorf("env: got %q want %q", got, w)
		}
	})

	t.Run("rich", func(t *testing.T) {
		out, _, err := run(t, lsFlags{output: "json", configFile: nsConfig}, map[string]string{"MIRRORD_LS_RICH_OUTPUT": "true"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "\n") != 1 {
			t.Errorf("rich output must be one line: %q", out)
		}
		var got struct {
			Targets []struct {
				Path      string `json:"path"`
				Available bool   `json:"available"`
			} `json:"targets"`
			CurrentNamespace string   `json:"current_namespace"`
			Namespaces       []string `json:"namespaces"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, tg := range got.Targets {
			paths = append(paths, tg.Path)
			if !tg.Available {
				t.Errorf("%s: available=false in the output", tg.Path)
			}
		}
		if w := expected(want.Available, listing.OpenSourceKinds...); !slices.Equal(paths, w) {
			t.Errorf("got %q\nwant %q", paths, w)
		}
		if got.CurrentNamespace != ns || !slices.Contains(got.Namespaces, ns) || !slices.Contains(got.Namespaces, "default") {
			t.Errorf("current %q namespaces %q", got.CurrentNamespace, got.Namespaces)
		}
	})

	t.Run("namespace override from the environment", func(t *testing.T) {
		out, _, err := run(t, lsFlags{output: "json"}, map[string]string{
			"MIRRORD_TARGET_NAMESPACE": ns, "MIRRORD_LS_RICH_OUTPUT": "true"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `"current_namespace":"`+ns+`"`) {
			t.Errorf("output %s: want current_namespace %s", out, ns)
		}
	})

	t.Run("limited user table", func(t *testing.T) {
		out, stderr, err := run(t, lsFlags{output: "table", configFile: limitedConfig,
			targetTypes: []string{"deployment", "statefulset", "service"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stderr, "warning: not allowed to list namespaces") {
			t.Errorf("stderr %q: want a warning about namespaces", stderr)
		}
		golden(t, "ls_table.golden", strings.ReplaceAll(out, ns, "NAMESPACE"))
	})

	t.Run("bad config", func(t *testing.T) {
		_, _, err := run(t, lsFlags{output: "json", configFile: badConfig}, nil)
		if err == nil || !strings.Contains(err.Error(), "bad.json:1:") {
			t.Fatalf("error %v, want one with the file position", err)
		}
	})

	t.Run("bad output", func(t *testing.T) {
		_, _, err := run(t, lsFlags{output: "yaml"}, nil)
		if err == nil || !strings.Contains(err.Error(), `unknown output format "yaml"`) {
			t.Fatalf("error %v", err)
		}
	})
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// FuzzLsKinds feeds MIRRORD_LS_TARGET_TYPES: never a panic, and every
// accepted type is listable.
func FuzzLsKinds(f *testing.F) {
	for _, s := range []string{`["pod"]`, `["deploy","rollout"]`, `[]`, `pod`, `[1]`, `["label"]`, `null`, `{"a":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kinds, err := lsKinds(nil, envOf(map[string]string{"MIRRORD_LS_TARGET_TYPES": s}))
		if err != nil {
			return
		}
		if len(kinds) == 0 {
			t.Fatalf("%q: no kinds and no error", s)
		}
		for _, k := range kinds {
			if !listing.Listable(k) {
				t.Fatalf("%q: accepted unlistable %q", s, k)
			}
		}
	})
}

func TestLsConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := write("full.json", `{"kubeconfig": "/k/config", "kube_context": "ctx", "target": {"path": "pod/x", "namespace": "ns-file"}}`)
	toml := write("m.toml", "kube_context = \"t\"\n[target]\nnamespace = \"ns-toml\"\n")
	bad := write("bad.yaml", "target:\n  namespace: [1]\n")
	tests := []struct {
		name    string
		path    string
		env     map[string]string
		want    lsSettings
		wantErr string
	}{
		{name: "no file", want: lsSettings{}},
		{name: "env override without file", env: map[string]string{"MIRRORD_TARGET_NAMESPACE": "ns-env"}, want: lsSettings{namespace: "ns-env"}},
		{name: "file", path: full, want: lsSettings{namespace: "ns-file", kubeconfig: "/k/config", kubeContext: "ctx"}},
		{name: "env over file", path: full, env: map[string]string{"MIRRORD_TARGET_NAMESPACE": "ns-env"},
			want: lsSettings{namespace: "ns-env", kubeconfig: "/k/config", kubeContext: "ctx"}},
		{name: "MIRRORD_CONFIG_FILE", env: map[string]string{"MIRRORD_CONFIG_FILE": toml}, want: lsSettings{namespace: "ns-toml", kubeContext: "t"}},
		{name: "invalid", path: bad, wantErr: "bad.yaml:2:"},
		{name: "missing", path: filepath.Join(dir, "nope.json"), wantErr: "read config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lsConfig(context.Background(), tt.path, envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
