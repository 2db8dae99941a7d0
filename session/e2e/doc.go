// Package e2e holds the end-to-end tests of sessions: `mirrord ext` as a
// real process against a real agent in a network-namespace "pod"
// (agent/agenttest), its output parsed as an editor parses it, the launch
// environment given to a real python3 with the real layer, and the session
// listed and stopped with `mirrord session`. Tests need root and skip
// themselves otherwise.
package e2e
