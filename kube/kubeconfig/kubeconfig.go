// Package kubeconfig loads Kubernetes client configuration the way kubectl
// does: the KUBECONFIG list (merged, first file wins per entry) or
// ~/.kube/config, an explicit file (mirrord's `kubeconfig` field) instead of
// both, a context override (`kube_context`), in-cluster configuration when no
// kubeconfig exists, exec credential plugins (handled by client-go), and the
// context's namespace.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mirrord-ls/mirrord-ls/kube/suggest"
)

// UserAgent identifies mirrord-ls to API servers.
const UserAgent = "mirrord-ls"

// Options select a configuration. The zero value is kubectl's default.
type Options struct {
	// Kubeconfig is an explicit kubeconfig file (mirrord's `kubeconfig`
	// field). It replaces KUBECONFIG and ~/.kube/config. A leading "~/" is
	// the home directory.
	Kubeconfig string
	// Context overrides the current context (mirrord's `kube_context`).
	Context string
	// Namespace overrides the context's namespace.
	Namespace string
	// LookupEnv reads KUBECONFIG and HOME; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Config is a loaded client configuration.
type Config struct {
	// REST is ready for clientsets (exec plugins and tokens included).
	REST *rest.Config
	// Context is the name of the context in use; "" for in-cluster.
	Context string
	// Namespace is Options.Namespace, else the context's namespace, else
	// the in-cluster namespace, else "default".
	Namespace string
	// Server is the API server URL.
	Server string
	// InCluster reports that the pod's service account is used.
	InCluster bool
}

// Key identifies the cluster credentials a Config was loaded with, so
// caches can keep one client per (kubeconfig files, context).
func (o Options) Key() string {
	return strings.Join(o.files(), string(filepath.ListSeparator)) + "\x00" + o.Context
}

func (o Options) lookup(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

func (o Options) home() string {
	if h, ok := o.lookup("HOME"); ok && h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

func (o Options) expand(path string) string {
	if path == "~" {
		return o.home()
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		return filepath.Join(o.home(), rest)
	}
	return path
}

// files returns the kubeconfig files in precedence order.
func (o Options) files() []string {
	if o.Kubeconfig != "" {
		return []string{o.expand(o.Kubeconfig)}
	}
	if list, ok := o.lookup(clientcmd.RecommendedConfigPathEnvVar); ok && list != "" {
		var files []string
		for _, f := range filepath.SplitList(list) {
			if f != "" {
				files = append(files, o.expand(f))
			}
		}
		if len(files) > 0 {
			return files
		}
	}
	return []string{filepath.Join(o.home(), clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
}

func (o Options) rules() *clientcmd.ClientConfigLoadingRules {
	if o.Kubeconfig != "" {
		// An explicit file must exist, as with kubectl --kubeconfig.
		return &clientcmd.ClientConfigLoadingRules{ExplicitPath: o.expand(o.Kubeconfig)}
	}
	// Missing files in a KUBECONFIG list are skipped, as kubectl does.
	return &clientcmd.ClientConfigLoadingRules{Precedence: o.files()}
}

// Raw returns the merged kubeconfig (contexts, clusters, users).
func Raw(o Options) (*clientcmdapi.Config, error) {
	raw, err := o.rules().Load()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", strings.Join(o.files(), string(filepath.ListSeparator)), err)
	}
	return raw, nil
}

// Contexts lists the context names of the kubeconfig, sorted, and the
// current context.
func Contexts(o Options) (names []string, current string, err error) {
	raw, err := Raw(o)
	if err != nil {
		return nil, "", err
	}
	for name := range raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, raw.CurrentContext, nil
}

// Load resolves the options into a client configuration.
func Load(o Options) (*Config, error) {
	raw, err := Raw(o)
	if err != nil {
		return nil, err
	}
	if o.Context != "" {
		if _, ok := raw.Contexts[o.Context]; !ok {
			names := make([]string, 0, len(raw.Contexts))
			for n := range raw.Contexts {
				names = append(names, n)
			}
			return nil, fmt.Errorf("kube context %q not found in %s%s; contexts: %s",
				o.Context, strings.Join(o.files(), string(filepath.ListSeparator)),
				suggest.Hint(o.Context, names), suggest.List(names, 10))
		}
	}
	if len(raw.Contexts) == 0 && len(raw.Clusters) == 0 && o.Kubeconfig == "" {
		return loadInCluster(o)
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	cc := clientcmd.NewDefaultClientConfig(*raw, overrides)
	rc, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no kube context is set in %s: set current-context or choose one with kube_context",
				strings.Join(o.files(), string(filepath.ListSeparator)))
		}
		return nil, fmt.Errorf("kubeconfig context %q: %w", contextName(raw, o), err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("namespace of context %q: %w", contextName(raw, o), err)
	}
	tune(rc)
	return &Config{REST: rc, Context: contextName(raw, o), Namespace: ns, Server: rc.Host}, nil
}

func contextName(raw *clientcmdapi.Config, o Options) string {
	if o.Context != "" {
		return o.Context
	}
	return raw.CurrentContext
}

// inClusterNamespaceFile holds the pod's namespace in a cluster.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func loadInCluster(o Options) (*Config, error) {
	rc, err := rest.InClusterConfig()
	if err != nil {
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("no kubeconfig found (looked in %s) and not running in a cluster",
				strings.Join(o.files(), string(filepath.ListSeparator)))
		}
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	ns := o.Namespace
	if ns == "" {
		if b, err := os.ReadFile(inClusterNamespaceFile); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		ns = "default"
	}
	tune(rc)
	return &Config{REST: rc, Namespace: ns, Server: rc.Host, InCluster: true}, nil
}

// tune sets the user agent and client-side rate limits suited to listing
// (client-go's defaults of 5 QPS would throttle pagination and informers).
func tune(rc *rest.Config) {
	rc.UserAgent = UserAgent
	if rc.QPS == 0 {
		rc.QPS = 50
	}
	if rc.Burst == 0 {
		rc.Burst = 100
	}
}
