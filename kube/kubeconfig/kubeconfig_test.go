package kubeconfig

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mirrord-ls/mirrord-ls/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Run(m)) }

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubeconfigText has one cluster, one user and the given contexts, each
// "name=namespace"; the first is current.
func kubeconfigText(server string, contexts ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: " + server + "}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n")
	for _, c := range contexts {
		name, ns, _ := strings.Cut(c, "=")
		b.WriteString("- name: " + name + "\n  context: {cluster: c, user: u, namespace: " + ns + "}\n")
	}
	if len(contexts) > 0 {
		name, _, _ := strings.Cut(contexts[0], "=")
		b.WriteString("current-context: " + name + "\n")
	}
	return b.String()
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	first := write(t, dir, "first", kubeconfigText("https://first.example:6443", "alpha=ns-a", "shared=from-first"))
	second := write(t, dir, "second", kubeconfigText("https://second.example:6443", "beta=ns-b", "shared=from-second"))
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(home, ".kube"), "config", kubeconfigText("https://home.example:6443", "home="))
	write(t, home, "explicit", kubeconfigText("https://explicit.example:6443", "ex=ns-x"))
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(n string) (string, bool) {
			if n == "HOME" {
				return home, true
			}
			v, ok := vars[n]
			return v, ok
		}
	}
	list := first + string(filepath.ListSeparator) + filepath.Join(dir, "missing") + string(filepath.ListSeparator) + second
	tests := []struct {
		name                     string
		opts                     Options
		context, namespace, host string
	}{
		{name: "KUBECONFIG list, current context of the first file",
			opts:    Options{LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			context: "alpha", namespace: "ns-a", host: "https://first.example:6443"},
		{name: "context from the second file",
			opts:    Options{Context: "beta", LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			context: "beta", namespace: "ns-b", host: "https://first.example:6443"},
		{name: "first file wins for a duplicate context",
			opts:    Options{Context: "shared", LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			context: "shared", namespace: "from-first", host: "https://first.example:6443"},
		{name: "namespace override",
			opts:    Options{Namespace: "mine", LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			context: "alpha", namespace: "mine", host: "https://first.example:6443"},
		{name: "home config, context without namespace",
			opts:    Options{LookupEnv: env(nil)},
			context: "home", namespace: "default", host: "https://home.example:6443"},
		{name: "explicit file replaces KUBECONFIG, ~ expanded",
			opts:    Options{Kubeconfig: "~/explicit", LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			context: "ex", namespace: "ns-x", host: "https://explicit.example:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Context != tt.context || cfg.Namespace != tt.namespace || cfg.REST.Host != tt.host || cfg.InCluster {
				t.Errorf("got context %q namespace %q host %q, want %q %q %q", cfg.Context, cfg.Namespace, cfg.REST.Host, tt.context, tt.namespace, tt.host)
			}
			if cfg.REST.UserAgent != UserAgent || cfg.REST.BearerToken != "t" {
				t.Errorf("user agent %q token %q", cfg.REST.UserAgent, cfg.REST.BearerToken)
			}
		})
	}

	names, current, err := Contexts(Options{LookupEnv: env(map[string]string{"KUBECONFIG": list})})
	if err != nil || current != "alpha" || !slices.Equal(names, []string{"alpha", "beta", "shared"}) {
		t.Errorf("Contexts = %q, %q, %v", names, current, err)
	}

	errTests := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown context", Options{Context: "alpah", LookupEnv: env(map[string]string{"KUBECONFIG": list})},
			`kube context "alpah" not found in ` + list + ` (did you mean alpha?); contexts: alpha, beta, shared`},
		{"missing explicit file", Options{Kubeconfig: filepath.Join(dir, "nope"), LookupEnv: env(nil)}, "load kubeconfig"},
		{"nothing at all", Options{LookupEnv: func(n string) (string, bool) {
			if n == "HOME" {
				return dir, true
			}
			return "", false
		}}, "no kubeconfig found (looked in " + filepath.Join(dir, ".kube", "config") + ") and not running in a cluster"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	a := Options{Kubeconfig: "/a", Context: "x", LookupEnv: env}
	b := Options{Kubeconfig: "/a", Context: "y", LookupEnv: env}
	c := Options{Kubeconfig: "/b", Context: "x", LookupEnv: env}
	if a.Key() == b.Key() || a.Key() == c.Key() || a.Key() != (Options{Kubeconfig: "/a", Context: "x", LookupEnv: env}).Key() {
		t.Fatalf("keys: %q %q %q", a.Key(), b.Key(), c.Key())
	}
}

// TestExecPluginRealCluster authenticates to the local control plane with
// an exec credential plugin (a shell script printing an ExecCredential).
func TestExecPluginRealCluster(t *testing.T) {
	c := kubetest.Start(t)
	dir := t.TempDir()
	token, err := os.ReadFile(filepath.Join(c.StateDir, "pki", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	plugin := write(t, dir, "plugin.sh", "#!/bin/sh\nprintf '%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\""+
		strings.TrimSpace(string(token))+"\"}}'\n")
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: " + c.Admin.Host +
		"\n    certificate-authority: " + filepath.Join(c.StateDir, "pki", "ca.crt") +
		"\nusers:\n- name: plugin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: " + plugin +
		"\n      interactiveMode: Never\ncontexts:\n- name: via-plugin\n  context: {cluster: local, user: plugin, namespace: kube-system}\ncurrent-context: via-plugin\n"
	path := write(t, dir, "kubeconfig", cfg)
	loaded, err := Load(Options{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Namespace != "kube-system" || loaded.REST.ExecProvider == nil {
		t.Fatalf("namespace %q exec %v", loaded.Namespace, loaded.REST.ExecProvider)
	}
	client, err := kubernetes.NewForConfig(loaded.REST)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("request authenticated by the exec plugin: %v", err)
	}
}
