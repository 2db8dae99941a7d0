package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo keeps client-go out of the language server: cluster work
// is done by the `mirrord cluster-serve` helper process. Of the kube/
// packages only the leaves under internal/ may be linked.
func TestNoClientGo(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const kube = "github.com/mirrord-ls/mirrord-ls/kube/"
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") ||
			strings.HasPrefix(pkg, kube) {
			t.Errorf("mirrord-ls links %s", pkg)
		}
	}
}
