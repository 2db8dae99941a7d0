package assist

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
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

var (
	yamlKubeconfig = regexp.MustCompile(`(?m)^kubeconfig:[ \t]*(?:"([^"]*)"|'([^']*)'|([^#\s][^#]*?))[ \t]*(?:#.*)?$`)
	tomlKubeconfig = regexp.MustCompile(`(?m)^kubeconfig[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)')`)
)

// ConfigKubeconfig returns the root `kubeconfig` field of a config text, or
// "" when it is unset or cannot be read. A leading "~/" is left for
// KubeconfigPaths to expand.
func ConfigKubeconfig(text string, f cursor.Format) string {
	var groups []string
	switch f {
	case cursor.YAML:
		groups = yamlKubeconfig.FindStringSubmatch(text)
	case cursor.TOML:
		root := text
		if i := regexp.MustCompile(`(?m)^[ \t]*\[`).FindStringIndex(text); i != nil {
			root = text[:i[0]]
		}
		groups = tomlKubeconfig.FindStringSubmatch(root)
	default:
		_, vs, ve, ok := cursor.JSONValueSpan(text, []string{"kubeconfig"})
		var v string
		if ok && json.Unmarshal([]byte(text[vs:ve]), &v) == nil {
			return v
		}
		return ""
	}
	for _, g := range groups[min(1, len(groups)):] {
		if g != "" {
			return g
		}
	}
	return ""
}
