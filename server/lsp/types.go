// Package lsp holds the few Language Server Protocol pieces mirrord-ls
// needs that go.lsp.dev/protocol v0.12.0 (LSP 3.16) cannot express, and the
// file URI helpers. Every other standard LSP type the server speaks is
// go.lsp.dev/protocol's (the mirrord/* methods' types live in package
// server).
package lsp

import (
	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
)

// TextDocumentContentChangeEvent is one edit of textDocument/didChange: a
// range replacement, or the whole text when Range is nil.
//
// protocol.TextDocumentContentChangeEvent has a non-pointer Range, so a
// whole-document change (no "range" member) cannot be told from an insert
// at 0:0.
type TextDocumentContentChangeEvent struct {
	Range *protocol.Range `json:"range,omitempty"`
	Text  string          `json:"text"`
}

// DidChangeTextDocumentParams of textDocument/didChange, with the change
// events above.
type DidChangeTextDocumentParams struct {
	TextDocument   protocol.VersionedTextDocumentIdentifier `json:"textDocument"`
	ContentChanges []TextDocumentContentChangeEvent         `json:"contentChanges"`
}

// PublishDiagnosticsParams of textDocument/publishDiagnostics.
//
// protocol.PublishDiagnosticsParams has Version as a uint32 with omitempty:
// version 0 (the first version neovim sends) would be left out, and
// "no version" (diagnostics of a closed or unopened file) could not be told
// from version 0.
type PublishDiagnosticsParams struct {
	URI         protocol.DocumentURI  `json:"uri"`
	Version     *int32                `json:"version,omitempty"`
	Diagnostics []protocol.Diagnostic `json:"diagnostics"`
}

// ServerCapabilities adds LSP 3.17's positionEncoding to protocol's
// capabilities (whose fields are promoted into the same JSON object).
type ServerCapabilities struct {
	protocol.ServerCapabilities
	// PositionEncoding is the encoding of position columns the server
	// chose from the client's general.positionEncodings ("utf-16" when the
	// client offered none).
	PositionEncoding string `json:"positionEncoding,omitempty"`
}

// InitializeResult is the result of initialize with the capabilities above.
type InitializeResult struct {
	Capabilities ServerCapabilities   `json:"capabilities"`
	ServerInfo   *protocol.ServerInfo `json:"serverInfo,omitempty"`
}

// CodeRequestFailed (LSP 3.17) answers a request that was valid but failed.
// protocol v0.12.0 predates it; jsonrpc2 has ServerNotInitialized and
// protocol has CodeRequestCancelled.
const CodeRequestFailed jsonrpc2.Code = -32803
