// Command coredns is CoreDNS with only the plugins the local cluster's DNS
// needs: the kubernetes plugin for cluster.local and plugins that answer
// every other name locally. It has no forward plugin, so no query can leave
// the machine (docs/cluster.md).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/template"
)

// directives is the plugin chain, in order. kubernetes answers
// cluster.local (and reverse look-ups it knows); every other query falls
// through to template, which answers NXDOMAIN. template must come after
// kubernetes: CoreDNS's own order (plugin.cfg) puts it first, where it would
// answer every name.
var directives = []string{"bind", "errors", "log", "health", "ready", "cache", "hosts", "kubernetes", "template"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
