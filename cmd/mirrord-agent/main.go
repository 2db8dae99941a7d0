// Command mirrord-agent runs in the target pod's namespaces and serves the
// mirrord agent protocol.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "mirrord-agent: not implemented yet")
	os.Exit(2)
}
