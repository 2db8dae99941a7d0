// Package e2e holds the end-to-end tests of the layer: real programs (curl,
// python, node, cat) run under `mirrord exec` with the C layer and the
// intproxy against a real mirrord-agent whose target is a network namespace
// (agent/agenttest), plus the benchmarks of docs/layer.md.
package e2e
