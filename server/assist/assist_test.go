package assist

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
)

func TestStripSnippet(t *testing.T) {
	for in, want := range map[string]string{
		`"mode": "${1|read,write|}"`: `"mode": "read"`,
		`"n": ${1:0}`:                `"n": 0`,
		`"o": {$1}`:                  `"o": {}`,
		`x\$y $12 ${2:a\}b}`:         `x$y  a}b`,
		`$`:                          `$`,
	} {
		if got := stripSnippet(in); got != want {
			t.Errorf("stripSnippet(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTemplateSnippet(t *testing.T) {
	for _, tc := range []struct {
		doc     TemplateDoc
		want    string
		snippet bool
	}{
		{TemplateDoc{Name: "get_env", Signature: `get_env(name="VAR", default=...)`}, `get_env(name="${1:VAR}", default=$2)`, true},
		{TemplateDoc{Name: "range", Signature: "range(end=N, start=0)"}, "range(end=${1:N}, start=${2:0})", true},
		{TemplateDoc{Name: "upper", Signature: "upper"}, "upper", false},
		{TemplateDoc{Name: "now", Signature: "now()"}, "now()", false},
		{TemplateDoc{Name: "join", Signature: `join(sep=",")`}, `join(sep="${1:,}")`, true},
	} {
		got, snippet := templateSnippet(tc.doc)
		if got != tc.want || snippet != tc.snippet {
			t.Errorf("templateSnippet(%q) = %q, %v; want %q, %v", tc.doc.Signature, got, snippet, tc.want, tc.snippet)
		}
	}
}

func TestKubeContexts(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1, namespace: ns}\n")
	write(b, "current-context: prod\ncontexts:\n- name: prod\n  context: {cluster: c2}\n- name: dev\n  context: {cluster: other}\n")
	env := map[string]string{"KUBECONFIG": a + string(filepath.ListSeparator) + filepath.Join(dir, "missing") + string(filepath.ListSeparator) + b}
	paths := KubeconfigPaths(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	got, err := ReadKubeContexts(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	want := []KubeContext{{Name: "dev", Cluster: "c1", Namespace: "ns", Current: true}, {Name: "prod", Cluster: "c2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("contexts = %+v, want %+v", got, want)
	}
	home := KubeconfigPaths(func(k string) (string, bool) {
		if k == "HOME" {
			return "/home/u", true
		}
		return "", false
	})
	if !reflect.DeepEqual(home, []string{"/home/u/.kube/config"}) {
		t.Errorf("default path = %v", home)
	}
	write(a, "contexts: [")
	if _, err := ReadKubeContexts(context.Background(), []string{a}); err == nil {
		t.Error("a broken kubeconfig gave no error")
	}
}

func TestConfigKubeconfig(t *testing.T) {
	for _, tc := range []struct {
		text   string
		format cursor.Format
		want   string
	}{
		{`{"kubeconfig": "/k/config", "feature": {}}`, cursor.JSON, "/k/config"},
		{`{"feature": {"kubeconfig": "/nested"}}`, cursor.JSON, ""},
		{"kubeconfig: ~/.kube/other # mine\nfeature: {}\n", cursor.YAML, "~/.kube/other"},
		{"kubeconfig: \"/q/config\"\n", cursor.YAML, "/q/config"},
		{"kubeconfig = '/t/config'\n[feature]\n", cursor.TOML, "/t/config"},
		{"[agent]\nkubeconfig = \"/not/root\"\n", cursor.TOML, ""},
	} {
		if got := ConfigKubeconfig(tc.text, tc.format); got != tc.want {
			t.Errorf("ConfigKubeconfig(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
