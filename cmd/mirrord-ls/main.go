// Command mirrord-ls is the language server for mirrord: `mirrord-ls --stdio`.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "mirrord-ls: not implemented yet")
	os.Exit(2)
}
