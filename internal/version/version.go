// Package version holds the build's version string, set by the linker:
// -ldflags "-X github.com/mirrord-ls/mirrord-ls/internal/version.Version=...".
package version

// Version of mirrord-ls, mirrord and mirrord-agent. The protocol version is
// separate (see package protocol).
var Version = "0.1.0-dev"
