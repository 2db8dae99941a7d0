// Package layering holds no code: its test is the project's map of which
// package may import which (docs/architecture.md explains the rooms).
//
// Data flows one way — editors → server → session → kube / protocol →
// agent — with schema and layer low, and types that two rooms share in
// small leaf packages under internal/. The test fails when an import climbs
// back, when a leaf imports a room, when production code imports a test
// helper, and when the mirrord or mirrord-agent binaries link the language
// server.
package layering
