package lsp

import (
	"testing"

	"go.lsp.dev/protocol"
)

func TestURIRoundTrip(t *testing.T) {
	for _, p := range []string{"/a/b.json", "/with space/ä#?%.mirrord/x.yaml", "/"} {
		u := URIFromPath(p)
		back, err := Path(u)
		if err != nil || back != p {
			t.Errorf("%q -> %q -> %q, %v", p, u, back, err)
		}
	}
	if got := URIFromPath("/with space/a"); got != "file:///with%20space/a" {
		t.Errorf("URIFromPath = %q", got)
	}
	for _, bad := range []protocol.DocumentURI{"untitled:Untitled-1", "file://%zz", "file:"} {
		if _, err := Path(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
