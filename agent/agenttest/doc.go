// Package agenttest is a test fixture for anything that talks to
// mirrord-agent: it builds the agent, creates a "pod" (a network namespace
// with a veth pair to a second "peer" namespace, a root directory with its
// own /etc files, and a real app process inside), starts the agent against
// it and connects protocol clients.
//
// Everything is cleaned up with t.Cleanup, and the fixture asserts at the
// end of each test that no namespace, iptables chain, sk_lookup link or
// process it created is left. Traffic stays inside the namespaces the test
// created:
//
//	host (test, agent) ── agent enters ──▶ target ns  10.213.0.1/30 ─veth─ 10.213.0.2/30  peer ns
//	                                       app: HTTP :80, echo :7 tcp/udp,       (curl, "third" namespace)
//	                                       DNS 127.0.0.1:53, unix echo
//
// Use it from a test package's TestMain so the same test binary can play
// the app:
//
//	func TestMain(m *testing.M) { agenttest.Main(m) }
//
// Tests that need root skip themselves when not run as root.
package agenttest
