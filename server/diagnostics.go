package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"time"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// diagnoser validates documents off the read loop. Per document at most
// one validation runs; edits that arrive meanwhile cancel it and mark the
// document dirty, and the worker then validates the newest version. A
// result is published only if the document still has the version that was
// validated, so the newest version always wins.
type diagnoser struct {
	s *Server

	mu      sync.Mutex
	states  map[protocol.DocumentURI]*diagState
	stopped bool
	wg      sync.WaitGroup
	base    context.Context
	cancel  context.CancelFunc
	// checker checks config targets in the cluster (nil without a
	// TargetCatalog).
	checker *targetChecker
}

type diagState struct {
	running bool
	dirty   bool
	cancel  context.CancelFunc
	// last holds the diagnostics last published (for code actions).
	last []publishedDiagnostic
}

// publishedDiagnostic pairs an LSP diagnostic with the engine's finding.
type publishedDiagnostic struct {
	lsp    protocol.Diagnostic
	engine schema.Diagnostic
}

// diagnosticData travels in protocol.Diagnostic.Data so code actions can use
// the engine's suggestion whatever the client keeps.
type diagnosticData struct {
	Pointer    string `json:"pointer,omitempty"`
	Stage      string `json:"stage,omitempty"`
	Suggestion string `json:"suggestion,omitempty"`
}

func newDiagnoser(s *Server) *diagnoser {
	base, cancel := context.WithCancel(context.Background())
	d := &diagnoser{s: s, states: map[protocol.DocumentURI]*diagState{}, base: base, cancel: cancel}
	if s.opts.Targets != nil {
		d.checker = newTargetChecker(s.opts.Targets)
	}
	return d
}

// schedule asks for the document to be validated.
func (d *diagnoser) schedule(uri protocol.DocumentURI) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	st := d.states[uri]
	if st == nil {
		st = &diagState{}
		d.states[uri] = st
	}
	if st.running {
		st.dirty = true
		if st.cancel != nil {
			st.cancel()
		}
		return
	}
	st.running = true
	d.wg.Add(1)
	go d.run(uri, st)
}

// forget drops the state of a closed document and clears its
// diagnostics in the editor.
func (d *diagnoser) forget(ctx context.Context, uri protocol.DocumentURI) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.s.notify(ctx, protocol.MethodTextDocumentPublishDiagnostics, lsp.PublishDiagnosticsParams{URI: uri, Diagnostics: []protocol.Diagnostic{}})
	if st := d.states[uri]; st != nil {
		if st.cancel != nil {
			st.cancel()
		}
		if !st.running {
			delete(d.states, uri)
		}
	}
}

// stop cancels running validations and waits for the workers.
func (d *diagnoser) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	if d.checker != nil {
		d.checker.wg.Wait()
	}
}

func (d *diagnoser) lastDiagnostics(uri protocol.DocumentURI) []publishedDiagnostic {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.states[uri]; st != nil {
		return st.last
	}
	return nil
}

func (d *diagnoser) run(uri protocol.DocumentURI, st *diagState) {
	defer d.wg.Done()
	for {
		if delay := d.s.diagnosticsDelay(); delay > 0 {
			// Trailing debounce: wait until no edit arrived for a whole delay.
			for d.base.Err() == nil {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-d.base.Done():
					t.Stop()
				}
				d.mu.Lock()
				edited := st.dirty
				st.dirty = false
				d.mu.Unlock()
				if !edited {
					break
				}
			}
		}
		doc := d.s.docs.get(uri)
		d.mu.Lock()
		if doc == nil || d.base.Err() != nil {
			st.running = false
			if doc == nil {
				delete(d.states, uri)
			}
			d.mu.Unlock()
			return
		}
		ctx, cancel := context.WithCancel(d.base)
		st.cancel = cancel
		st.dirty = false
		d.mu.Unlock()

		opts := d.s.verifyOptions(doc.path)
		opts.Format = &doc.format
		res := schema.Verify(ctx, []byte(doc.doc.Text()), opts)
		cancelled := ctx.Err() != nil
		cancel()

		d.mu.Lock()
		if st.dirty || cancelled {
			d.mu.Unlock()
			continue
		}
		d.mu.Unlock()

		published := make([]publishedDiagnostic, 0, len(res.Diagnostics))
		diags := toLSPDiagnostics(res.Diagnostics, doc.doc.Encoding())
		for i, ld := range diags {
			published = append(published, publishedDiagnostic{lsp: ld, engine: res.Diagnostics[i]})
		}
		// The cluster's finding on the target, when already known; a check
		// that is still running validates the document again when it ends.
		for _, pd := range d.targetDiagnostics(uri, doc, res) {
			published = append(published, pd)
			diags = append(diags, pd.lsp)
		}
		version := doc.version

		// Check and publish under the lock that didClose's clearing takes,
		// so a closed document never gets diagnostics after its clearing.
		d.mu.Lock()
		if cur := d.s.docs.get(uri); cur == nil || cur.version != doc.version || cur.doc != doc.doc {
			d.mu.Unlock()
			continue // closed or edited meanwhile: the newer version wins
		}
		d.s.notify(d.base, protocol.MethodTextDocumentPublishDiagnostics, lsp.PublishDiagnosticsParams{URI: uri, Version: &version, Diagnostics: diags})
		st.last = published
		if st.dirty {
			d.mu.Unlock()
			continue
		}
		st.running = false
		st.cancel = nil
		d.mu.Unlock()
		return
	}
}

// toLSPDiagnostics converts engine findings; positions come from the
// engine's line and its UTF-16 or byte columns, as the client negotiated.
func toLSPDiagnostics(in []schema.Diagnostic, enc textdoc.Encoding) []protocol.Diagnostic {
	out := make([]protocol.Diagnostic, 0, len(in))
	for _, d := range in {
		sev := protocol.DiagnosticSeverityError
		if d.Severity == schema.SeverityWarning {
			sev = protocol.DiagnosticSeverityWarning
		}
		data, _ := json.Marshal(diagnosticData{Pointer: d.Pointer, Stage: string(d.Stage), Suggestion: d.Suggestion})
		startCol, endCol := d.Range.Start.UTF16, d.Range.End.UTF16
		if enc == textdoc.UTF8 {
			startCol, endCol = d.Range.Start.Column, d.Range.End.Column
		}
		ld := protocol.Diagnostic{
			Range: protocol.Range{
				Start: protocol.Position{Line: clampU32(d.Range.Start.Line), Character: clampU32(startCol)},
				End:   protocol.Position{Line: clampU32(d.Range.End.Line), Character: clampU32(endCol)},
			},
			Severity: sev,
			Source:   "mirrord",
			Message:  d.Message,
			Data:     json.RawMessage(data),
		}
		if d.Code != "" {
			ld.Code = d.Code // Code is an interface{}: "" would not be omitted
		}
		out = append(out, ld)
	}
	return out
}

// diagnosticDataOf reads the server's data back from a diagnostic the
// client sent (decoded into protocol.Diagnostic's interface{} Data).
func diagnosticDataOf(d protocol.Diagnostic) (diagnosticData, bool) {
	var data diagnosticData
	raw := reencode(d.Data)
	if raw == nil || json.Unmarshal(raw, &data) != nil {
		return diagnosticData{}, false
	}
	return data, true
}

func clampU32(v int) uint32 {
	if v < 0 {
		return 0
	}
	return uint32(v)
}

// verifyOptions are the engine options for a document at path.
// verifyOptions are the options of verifying the config at path; a
// config extension in any case picks the format (.JSON as .json).
func (s *Server) verifyOptions(path string) schema.Options {
	opts := schema.Options{Path: path, Env: s.opts.LookupEnv, IDE: true}
	if f, ok := formatByExtension(filepath.Ext(path)); ok {
		opts.Format = &f
	}
	return opts
}
