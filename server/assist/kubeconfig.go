package assist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// KubeContext is one context of a kubeconfig.
type KubeContext struct {
	Name      string
	Cluster   string
	Namespace string
	Current   bool
}

// KubeconfigPaths returns the kubeconfig files in use: the entries of
// KUBECONFIG (a path list), or ~/.kube/config.
func KubeconfigPaths(lookupEnv func(string) (string, bool)) []string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if v, ok := lookupEnv("KUBECONFIG"); ok && strings.TrimSpace(v) != "" {
		var out []string
		for _, p := range filepath.SplitList(v) {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	home, ok := lookupEnv("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		home = h
	}
	return []string{filepath.Join(home, ".kube", "config")}
}

type kubeconfigFile struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// ReadKubeContexts lists the contexts of the kubeconfig files, merged as
// kubectl does (the first file that names a context or the current context
// wins). Missing files are skipped; a file that does not parse is an error.
func ReadKubeContexts(ctx context.Context, paths []string) ([]KubeContext, error) {
	seen := map[string]bool{}
	var out []KubeContext
	current := ""
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("reading kubeconfig: %w", err)
		}
		var kc kubeconfigFile
		if err := yaml.Unmarshal(data, &kc); err != nil {
			return nil, fmt.Errorf("parsing kubeconfig %s: %w", p, err)
		}
		if current == "" {
			current = kc.CurrentContext
		}
		for _, c := range kc.Contexts {
			if c.Name == "" || seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			out = append(out, KubeContext{Name: c.Name, Cluster: c.Context.Cluster, Namespace: c.Context.Namespace})
		}
	}
	for i := range out {
		out[i].Current = out[i].Name == current
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
