package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// document is one version of an open config file. It is immutable; edits
// replace it in the store.
type document struct {
	uri     protocol.DocumentURI
	path    string
	format  schema.Format
	version int32
	doc     *textdoc.Doc
}

func (d *document) cursorFormat() cursor.Format { return cursor.Format(d.format) }

type documents struct {
	mu sync.RWMutex
	m  map[protocol.DocumentURI]*document
}

func newDocuments() *documents {
	return &documents{m: map[protocol.DocumentURI]*document{}}
}

func (ds *documents) get(uri protocol.DocumentURI) *document {
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	return ds.m[uri]
}

func (ds *documents) put(d *document) {
	ds.mu.Lock()
	ds.m[d.uri] = d
	ds.mu.Unlock()
}

func (ds *documents) remove(uri protocol.DocumentURI) bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	_, ok := ds.m[uri]
	delete(ds.m, uri)
	return ok
}

func (ds *documents) uris() []protocol.DocumentURI {
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	out := make([]protocol.DocumentURI, 0, len(ds.m))
	for u := range ds.m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IsConfigPath reports whether the server acts on a file: *mirrord.json
// (and *mirrord.{yaml,yml,toml}) anywhere, and any .json, .yaml, .yml or
// .toml file directly inside a .mirrord folder. The path alone decides:
// editors name languages in their own ways (eglot sends "js" for a JSON
// file in js-mode, "conf-toml" for TOML), so the languageId of didOpen is
// not consulted.
func IsConfigPath(path string) bool {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if _, ok := formatByExtension(ext); !ok {
		return false
	}
	if strings.HasSuffix(strings.TrimSuffix(base, ext), "mirrord") {
		return true
	}
	return filepath.Base(filepath.Dir(path)) == ".mirrord"
}

// formatByExtension maps a config extension (any case) to its format.
func formatByExtension(ext string) (schema.Format, bool) {
	switch strings.ToLower(ext) {
	case ".json":
		return schema.FormatJSON, true
	case ".yaml", ".yml":
		return schema.FormatYAML, true
	case ".toml":
		return schema.FormatTOML, true
	}
	return schema.FormatJSON, false
}

// configFormat decides how a config is parsed: by its extension, else by
// its content (a first non-blank '{' is JSON, a '[table]' or 'key = …'
// line TOML, anything else YAML). The languageId an editor sends is never
// consulted.
func configFormat(path, text string) schema.Format {
	if f, ok := formatByExtension(filepath.Ext(path)); ok {
		return f
	}
	return sniffFormat(text)
}

// sniffFormat guesses the format of a config from its first meaningful
// line.
func sniffFormat(text string) schema.Format {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "{"):
			return schema.FormatJSON
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") && !strings.Contains(line, ","):
			return schema.FormatTOML
		case tomlAssignment(line):
			return schema.FormatTOML
		}
		return schema.FormatYAML
	}
	return schema.FormatJSON
}

// tomlAssignment reports a `key = value` line (YAML writes `key: value`).
func tomlAssignment(line string) bool {
	eq := strings.IndexByte(line, '=')
	colon := strings.IndexByte(line, ':')
	return eq > 0 && (colon < 0 || eq < colon)
}

// openConfig makes a document from an opened file, or explains why the
// server leaves it alone.
func openConfig(item protocol.TextDocumentItem, enc textdoc.Encoding) (*document, error) {
	path, err := lsp.Path(item.URI)
	if err != nil {
		return nil, err
	}
	if !IsConfigPath(path) {
		return nil, fmt.Errorf("%s is not a mirrord config file", path)
	}
	format := configFormat(path, item.Text)
	return &document{uri: item.URI, path: path, format: format, version: item.Version, doc: textdoc.NewEncoded(item.Text, enc)}, nil
}

func (s *Server) didOpen(_ context.Context, p protocol.DidOpenTextDocumentParams) error {
	if p.TextDocument.URI == "" {
		return errors.New("didOpen without a uri")
	}
	d, err := openConfig(p.TextDocument, s.encoding())
	if err != nil {
		s.log.Debug("not acting on document", "uri", p.TextDocument.URI, "reason", err)
		return nil
	}
	s.docs.put(d)
	s.diags.schedule(d.uri)
	return nil
}

func (s *Server) didChange(_ context.Context, p lsp.DidChangeTextDocumentParams) error {
	uri := p.TextDocument.URI
	d := s.docs.get(uri)
	if d == nil {
		return nil // not a config document
	}
	edits := make([]textdoc.Edit, len(p.ContentChanges))
	for i, c := range p.ContentChanges {
		if c.Range == nil {
			edits[i] = textdoc.Edit{Whole: true, Text: c.Text}
			continue
		}
		edits[i] = textdoc.Edit{
			StartLine: int(c.Range.Start.Line), StartChar: int(c.Range.Start.Character),
			EndLine: int(c.Range.End.Line), EndChar: int(c.Range.End.Character),
			Text: c.Text,
		}
	}
	next, err := d.doc.Apply(edits)
	if err != nil {
		return fmt.Errorf("applying the edits of version %d to %s: %w", p.TextDocument.Version, uri, err)
	}
	nd := *d
	nd.doc = next
	nd.version = p.TextDocument.Version
	s.docs.put(&nd)
	s.diags.schedule(uri)
	return nil
}

func (s *Server) didClose(ctx context.Context, p protocol.DidCloseTextDocumentParams) error {
	if s.docs.remove(p.TextDocument.URI) {
		s.diags.forget(ctx, p.TextDocument.URI)
	}
	return nil
}

func (s *Server) didSave(_ context.Context, p protocol.DidSaveTextDocumentParams) error {
	if s.docs.get(p.TextDocument.URI) != nil {
		s.diags.schedule(p.TextDocument.URI)
	}
	return nil
}

// didChangeWatchedFiles re-validates: every open config (a change on disk
// can matter to it, e.g. an env_file), and config files that changed on
// disk but are not open (their diagnostics come from the disk text;
// deleted ones are cleared).
func (s *Server) didChangeWatchedFiles(ctx context.Context, p protocol.DidChangeWatchedFilesParams) error {
	if s.diags.checker != nil {
		// The cluster may have changed too (e.g. a kubeconfig): check again.
		s.diags.checker.forget()
	}
	for _, uri := range s.docs.uris() {
		s.diags.schedule(uri)
	}
	for _, ev := range p.Changes {
		if ev == nil || s.docs.get(ev.URI) != nil {
			continue
		}
		path, err := lsp.Path(ev.URI)
		if err != nil || !IsConfigPath(path) {
			continue
		}
		if ev.Type == protocol.FileChangeTypeDeleted {
			s.notify(ctx, protocol.MethodTextDocumentPublishDiagnostics, lsp.PublishDiagnosticsParams{URI: ev.URI, Diagnostics: []protocol.Diagnostic{}})
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			s.log.Debug("watched file not readable", "path", path, "error", err)
			continue
		}
		res := schema.Verify(ctx, data, s.verifyOptions(path))
		s.notify(ctx, protocol.MethodTextDocumentPublishDiagnostics, lsp.PublishDiagnosticsParams{URI: ev.URI, Diagnostics: toLSPDiagnostics(res.Diagnostics, s.encoding())})
	}
	return nil
}

func (s *Server) didChangeWorkspaceFolders(_ context.Context, p protocol.DidChangeWorkspaceFoldersParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := map[string]bool{}
	for _, f := range p.Event.Removed {
		if path, err := lsp.Path(protocol.DocumentURI(f.URI)); err == nil {
			removed[path] = true
		}
	}
	var next []string
	for _, f := range s.folders {
		if !removed[f] {
			next = append(next, f)
		}
	}
	for _, f := range p.Event.Added {
		if path, err := lsp.Path(protocol.DocumentURI(f.URI)); err == nil {
			next = append(next, path)
		}
	}
	s.folders = next
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
