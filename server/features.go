package server

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/sessionapi"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
	"github.com/mirrord-ls/mirrord-ls/server/markup"
)

// positionOf resolves a document and an LSP position to a byte offset.
func (s *Server) positionOf(p protocol.TextDocumentPositionParams) (*document, int, error) {
	if p.TextDocument.URI == "" {
		return nil, 0, jsonrpc2.NewError(jsonrpc2.InvalidParams, "textDocument.uri is required")
	}
	d := s.docs.get(p.TextDocument.URI)
	if d == nil {
		return nil, 0, nil
	}
	off, err := d.doc.Offset(int(p.Position.Line), int(p.Position.Character))
	if err != nil {
		return nil, 0, jsonrpc2.NewError(jsonrpc2.InvalidParams, err.Error())
	}
	return d, off, nil
}

func (s *Server) snippets() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.caps.TextDocument
	return td != nil && td.Completion != nil && td.Completion.CompletionItem != nil && td.Completion.CompletionItem.SnippetSupport
}

// markdownHover reports whether the client renders Markdown in hovers
// (textDocument.hover.contentFormat lists "markdown"). A client that
// does not say gets plain text: it is readable everywhere.
func (s *Server) markdownHover() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.caps.TextDocument
	return td != nil && td.Hover != nil && slices.Contains(td.Hover.ContentFormat, protocol.Markdown)
}

// markdownDocs reports whether the client renders Markdown in completion
// documentation (completionItem.documentationFormat lists "markdown").
func (s *Server) markdownDocs() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.caps.TextDocument
	return td != nil && td.Completion != nil && td.Completion.CompletionItem != nil &&
		slices.Contains(td.Completion.CompletionItem.DocumentationFormat, protocol.Markdown)
}

// asPlainText turns Markdown content into plain text.
func asPlainText(c protocol.MarkupContent) protocol.MarkupContent {
	if c.Kind != protocol.Markdown {
		return c
	}
	return protocol.MarkupContent{Kind: protocol.PlainText, Value: markup.PlainText(c.Value)}
}

func (s *Server) completion(ctx context.Context, p protocol.CompletionParams) (protocol.CompletionList, error) {
	d, off, err := s.positionOf(p.TextDocumentPositionParams)
	if err != nil || d == nil {
		return protocol.CompletionList{Items: []protocol.CompletionItem{}}, err
	}
	list, err := s.engine.Complete(ctx, assist.Request{Doc: d.doc, Offset: off, Format: d.cursorFormat(), Snippets: s.snippets(), Path: d.path})
	if err != nil || s.markdownDocs() {
		return list, err
	}
	for i, it := range list.Items {
		switch doc := it.Documentation.(type) {
		case *protocol.MarkupContent:
			plain := asPlainText(*doc)
			list.Items[i].Documentation = &plain
		case protocol.MarkupContent:
			list.Items[i].Documentation = asPlainText(doc)
		}
	}
	return list, nil
}

func (s *Server) hover(ctx context.Context, p protocol.HoverParams) (*protocol.Hover, error) {
	h, err := s.markdownHoverOf(ctx, p)
	if err != nil || h == nil || s.markdownHover() {
		return h, err
	}
	h.Contents = asPlainText(h.Contents)
	return h, nil
}

// markdownHoverOf is the hover in Markdown: the field's docs, then the
// cluster's view of the target.
func (s *Server) markdownHoverOf(ctx context.Context, p protocol.HoverParams) (*protocol.Hover, error) {
	d, off, err := s.positionOf(p.TextDocumentPositionParams)
	if err != nil || d == nil {
		return nil, err
	}
	h := s.engine.Hover(assist.Request{Doc: d.doc, Offset: off, Format: d.cursorFormat()})
	if s.opts.Targets == nil {
		return h, nil
	}
	md := s.targetHover(ctx, d, off)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if md == "" {
		return h, nil
	}
	if h == nil {
		return &protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: md}}, nil
	}
	h.Contents.Value = strings.TrimSpace(h.Contents.Value) + "\n\n---\n\n" + md
	return h, nil
}

func (s *Server) codeAction(_ context.Context, p protocol.CodeActionParams) ([]protocol.CodeAction, error) {
	if p.TextDocument.URI == "" {
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "textDocument.uri is required")
	}
	d := s.docs.get(p.TextDocument.URI)
	if d == nil {
		return []protocol.CodeAction{}, nil
	}
	start, err1 := d.doc.Offset(int(p.Range.Start.Line), int(p.Range.Start.Character))
	end, err2 := d.doc.Offset(int(p.Range.End.Line), int(p.Range.End.Character))
	if err1 != nil || err2 != nil {
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "invalid range")
	}
	if end < start {
		start, end = end, start
	}
	var fixes []assist.Fix
	for _, diag := range p.Context.Diagnostics {
		if data, ok := diagnosticDataOf(diag); ok && data.Suggestion != "" {
			fixes = append(fixes, assist.Fix{Diagnostic: diag, Suggestion: data.Suggestion})
			continue
		}
		// The client dropped the data: find the published diagnostic.
		for _, pd := range s.diags.lastDiagnostics(d.uri) {
			if pd.lsp.Range == diag.Range && pd.lsp.Message == diag.Message && pd.engine.Suggestion != "" {
				fixes = append(fixes, assist.Fix{Diagnostic: diag, Suggestion: pd.engine.Suggestion})
				break
			}
		}
	}
	if len(p.Context.Diagnostics) == 0 {
		// Clients that send no context still get the fixes at the range.
		for _, pd := range s.diags.lastDiagnostics(d.uri) {
			ds, _ := d.doc.Offset(int(pd.lsp.Range.Start.Line), int(pd.lsp.Range.Start.Character))
			de, _ := d.doc.Offset(int(pd.lsp.Range.End.Line), int(pd.lsp.Range.End.Character))
			if pd.engine.Suggestion != "" && ds <= end && de >= start {
				fixes = append(fixes, assist.Fix{Diagnostic: pd.lsp, Suggestion: pd.engine.Suggestion})
			}
		}
	}
	actions := s.engine.CodeActions(assist.ActionRequest{
		URI: d.uri, Doc: d.doc, Format: d.cursorFormat(), Start: start, End: end, Fixes: fixes,
	})
	if actions == nil {
		actions = []protocol.CodeAction{}
	}
	if len(p.Context.Only) > 0 {
		allowed := map[protocol.CodeActionKind]bool{}
		for _, k := range p.Context.Only {
			allowed[k] = true
		}
		filtered := actions[:0]
		for _, a := range actions {
			if allowed[a.Kind] || (a.Kind == protocol.RefactorRewrite && allowed[protocol.Refactor]) {
				filtered = append(filtered, a)
			}
		}
		actions = filtered
	}
	return actions, nil
}

func (s *Server) executeCommand(ctx context.Context, p protocol.ExecuteCommandParams) (any, error) {
	arg := json.RawMessage(`{}`)
	if len(p.Arguments) > 0 {
		arg = reencode(p.Arguments[0])
	}
	switch p.Command {
	case CommandVerifyConfig:
		var vp VerifyConfigParams
		if err := decodeParams(arg, &vp); err != nil {
			return nil, err
		}
		return s.verifyConfig(ctx, vp)
	case CommandDiscoverConfig:
		var dp DiscoverConfigParams
		if err := decodeParams(arg, &dp); err != nil {
			return nil, err
		}
		return s.discoverConfig(ctx, dp)
	case CommandListTargets:
		if s.opts.Targets == nil {
			break
		}
		var lp ListTargetsParams
		if err := decodeParams(arg, &lp); err != nil {
			return nil, err
		}
		return s.listTargets(ctx, lp)
	case CommandGitBranch:
		if _, ok := s.methods["mirrord/gitBranch"]; !ok {
			break
		}
		var gp sessionapi.GitBranchParams
		if err := decodeParams(arg, &gp); err != nil {
			return nil, err
		}
		return s.gitBranch(ctx, gp)
	case "":
		return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "command is required")
	}
	return nil, jsonrpc2.NewError(jsonrpc2.InvalidParams, "unknown command "+p.Command)
}
