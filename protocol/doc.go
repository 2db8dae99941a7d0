// Package protocol is the wire protocol between a mirrord-ls client (the CLI,
// the intproxy, port-forward) and mirrord-agent.
//
// One client uses one connection. The connection starts with a handshake
// (Hello from the client, Welcome from the agent; see handshake.go), then a
// stream multiplexer runs over it. Every operation is its own stream: the
// opener writes one message holding a typed Request, the other side answers
// with one message holding a Response, and after that the stream either ends
// or carries the operation's bytes (an outgoing TCP connection's bytes, framed
// UDP datagrams, file-handle requests, incoming connections).
//
// The format is documented for humans in docs/agent-protocol.md.
package protocol
