package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/schema"
	"github.com/mirrord-ls/mirrord-ls/schema/configref"
	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// CommandListTargets is mirrord/listTargets through workspace/executeCommand.
const CommandListTargets = "mirrord.listTargets"

// Cluster timeouts. The catalog answers from memory once warm; these
// bound a cold start (first sync of a namespace) or a dead cluster.
const (
	// hoverClusterTimeout bounds the cluster part of a hover.
	hoverClusterTimeout = 2 * time.Second
	// targetCheckTimeout bounds one check of a config's target.
	targetCheckTimeout = 15 * time.Second
	// targetCheckTTL is how long a check result is reused before the next
	// validation checks again (the stale result is shown meanwhile).
	targetCheckTTL = 10 * time.Second
)

func (p *ListTargetsParams) validate() error {
	if p.ConfigURI != "" && p.ConfigPath != "" {
		return errors.New("give configUri or configPath, not both")
	}
	return nil
}

// listTargets answers mirrord/listTargets from the TargetCatalog.
func (s *Server) listTargets(ctx context.Context, p ListTargetsParams) (targets.TargetList, error) {
	ref, err := s.configClusterRef(ctx, p.ConfigURI, p.ConfigPath)
	if err != nil {
		return targets.TargetList{}, err
	}
	if err := s.allowKubeconfig(ref.Kubeconfig); err != nil {
		return targets.TargetList{}, err
	}
	if p.Namespace != "" {
		ref.Namespace = p.Namespace
	}
	kinds := p.Kinds
	if len(kinds) == 0 {
		kinds = p.TargetTypes
	}
	list, err := s.opts.Targets.ListTargets(ctx, targets.TargetQuery{Cluster: ref, Kinds: kinds, IncludeUnavailable: p.IncludeUnavailable})
	if err != nil {
		return targets.TargetList{}, err
	}
	if list.Targets == nil {
		list.Targets = []targets.Target{}
	}
	if list.Namespaces == nil {
		list.Namespaces = []string{}
	}
	if list.Warnings == nil {
		list.Warnings = []string{}
	}
	return list, nil
}

// configClusterRef reads the cluster a config names: an open document as
// the editor holds it, else the file; neither: the kubeconfig's defaults.
func (s *Server) configClusterRef(ctx context.Context, uri protocol.DocumentURI, path string) (targets.ClusterRef, error) {
	var text string
	switch {
	case uri != "":
		if d := s.docs.get(uri); d != nil {
			path, text = d.path, d.doc.Text()
			break
		}
		fp, err := lsp.Path(uri)
		if err != nil {
			return targets.ClusterRef{}, jsonrpc2.NewError(jsonrpc2.InvalidParams, "configUri: "+err.Error())
		}
		path = fp
	case path != "":
		if !filepath.IsAbs(path) {
			if folder := s.firstFolder(); folder != "" {
				path = filepath.Join(folder, path)
			}
		}
	default:
		return targets.ClusterRef{}, nil
	}
	if text == "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return targets.ClusterRef{}, fmt.Errorf("reading the config: %w", err)
		}
		text = string(data)
	}
	res := schema.Verify(ctx, []byte(text), s.verifyOptions(path))
	if res.Root == nil {
		return targets.ClusterRef{}, fmt.Errorf("the config %s cannot be read: %s", path, firstError(res))
	}
	return s.clusterRefOf(configref.FromResult(res), path), nil
}

func firstError(res *schema.Result) string {
	for _, d := range res.Diagnostics {
		if d.Severity == schema.SeverityError {
			return fmt.Sprintf("%d:%d: %s", d.Range.Start.Line+1, d.Range.Start.UTF16+1, d.Message)
		}
	}
	return "unknown error"
}

// clusterRefOf is the cluster a config names (configref.Ref.Cluster with
// the server's environment).
func (s *Server) clusterRefOf(r configref.Ref, configPath string) targets.ClusterRef {
	return r.Cluster(configPath, s.opts.LookupEnv)
}

// targetHover is the cluster's part of a hover on the target value.
func (s *Server) targetHover(ctx context.Context, d *document, off int) string {
	r := configref.FromText(ctx, d.doc.Text(), d.format, -1, s.opts.LookupEnv)
	if r.Target == "" || !r.HasSpan || off < r.TargetStart || off > r.TargetEnd {
		return ""
	}
	if t, err := targetpath.Parse(r.Target); err != nil || t.Kind == targetpath.Targetless {
		return ""
	}
	ref := s.clusterRefOf(r, d.path)
	if err := s.allowKubeconfig(ref.Kubeconfig); err != nil {
		return "*Cluster: " + err.Error() + "*"
	}
	ctx, cancel := context.WithTimeout(ctx, hoverClusterTimeout)
	defer cancel()
	md, err := s.opts.Targets.DescribeTarget(ctx, ref, r.Target)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return "*Cluster: no answer within " + hoverClusterTimeout.String() + "; hover again later.*"
		}
		return "*Cluster: " + err.Error() + "*"
	}
	return md
}

// --- the missing-target diagnostic ---

// checkKey identifies one check: a target path in a cluster namespace.
type checkKey struct {
	ref  targets.ClusterRef
	path string
}

type checkResult struct {
	check targets.TargetCheck
	err   error
	at    time.Time
}

// targetChecker checks asynchronously that the targets of open configs
// exist, caching the outcomes. Documents waiting on a check are validated
// again when it ends, and then publish its outcome with their schema
// diagnostics.
type targetChecker struct {
	cat TargetCatalog

	mu      sync.Mutex
	results map[checkKey]checkResult
	waiting map[checkKey][]protocol.DocumentURI
	wg      sync.WaitGroup
}

func newTargetChecker(cat TargetCatalog) *targetChecker {
	return &targetChecker{cat: cat, results: map[checkKey]checkResult{}, waiting: map[checkKey][]protocol.DocumentURI{}}
}

// lookup returns the cached outcome of a check (stale or not) and starts a
// new check when there is none or it is older than targetCheckTTL; done is
// called with each waiting document when that check ends.
func (tc *targetChecker) lookup(base context.Context, k checkKey, uri protocol.DocumentURI, done func(protocol.DocumentURI)) (checkResult, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	res, ok := tc.results[k]
	if ok && time.Since(res.at) < targetCheckTTL {
		return res, true
	}
	if waiters, running := tc.waiting[k]; running {
		if !containsURI(waiters, uri) {
			tc.waiting[k] = append(waiters, uri)
		}
		return res, ok
	}
	if base.Err() != nil {
		return res, ok
	}
	tc.waiting[k] = []protocol.DocumentURI{uri}
	tc.wg.Add(1)
	go func() {
		defer tc.wg.Done()
		ctx, cancel := context.WithTimeout(base, targetCheckTimeout)
		check, err := tc.cat.CheckTarget(ctx, k.ref, k.path)
		if err != nil && errors.Is(err, context.DeadlineExceeded) && base.Err() == nil {
			err = fmt.Errorf("cluster unreachable: no answer within %s", targetCheckTimeout)
		}
		cancel()
		tc.mu.Lock()
		waiters := tc.waiting[k]
		delete(tc.waiting, k)
		if base.Err() == nil {
			tc.results[k] = checkResult{check: check, err: err, at: time.Now()}
		}
		tc.mu.Unlock()
		if base.Err() != nil {
			return
		}
		for _, u := range waiters {
			done(u)
		}
	}()
	return res, ok
}

// forget drops every cached outcome (a watched file changed).
func (tc *targetChecker) forget() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	clear(tc.results)
}

func containsURI(us []protocol.DocumentURI, u protocol.DocumentURI) bool {
	for _, x := range us {
		if x == u {
			return true
		}
	}
	return false
}

// targetDiagnostics returns the cluster diagnostic of a validated
// document: known at once when the check is cached, else the document is
// validated again when the check ends. A config without a target, with a
// target that does not parse, or targetless, gets none.
func (d *diagnoser) targetDiagnostics(uri protocol.DocumentURI, doc *document, res *schema.Result) []publishedDiagnostic {
	if d.checker == nil || res.Root == nil {
		return nil
	}
	r := configref.FromResult(res)
	if r.Target == "" {
		return nil
	}
	t, err := targetpath.Parse(r.Target)
	if err != nil || t.Kind == targetpath.Targetless || t.Kind == targetpath.Label {
		return nil
	}
	k := checkKey{ref: d.s.clusterRefOf(r, doc.path), path: t.String()}
	if err := d.s.allowKubeconfig(k.ref.Kubeconfig); err != nil {
		// Not checked: the cluster is not contacted through this
		// kubeconfig (docs/security.md).
		eng := schema.Diagnostic{Severity: schema.SeverityWarning, Message: err.Error() + "; target not checked", Pointer: "/target", Stage: "cluster"}
		ld := toLSPDiagnostics([]schema.Diagnostic{eng}, doc.doc.Encoding())[0]
		ld.Range = targetRange(doc, res, r)
		ld.Code = CodeWorkspaceNotTrusted
		return []publishedDiagnostic{{lsp: ld, engine: eng}}
	}
	out, ok := d.checker.lookup(d.base, k, uri, d.schedule)
	if !ok {
		return nil
	}
	var msg, suggestion string
	switch {
	case out.err != nil:
		msg = out.err.Error() + "; target not checked"
	case out.check.Missing:
		msg = out.check.Message
		suggestion = out.check.Suggestion
		if suggestion != "" && r.ObjectForm {
			if st, err := targetpath.Parse(suggestion); err == nil {
				suggestion = st.Name
			}
		}
	default:
		return nil
	}
	rng := targetRange(doc, res, r)
	eng := schema.Diagnostic{Severity: schema.SeverityWarning, Message: msg, Pointer: "/target", Stage: "cluster", Suggestion: suggestion}
	ld := toLSPDiagnostics([]schema.Diagnostic{eng}, doc.doc.Encoding())[0]
	ld.Range = rng
	ld.Code = "TARGET-NOT-FOUND"
	if out.err != nil {
		ld.Code = "TARGET-NOT-CHECKED"
	}
	return []publishedDiagnostic{{lsp: ld, engine: eng}}
}

// targetRange is the range of the target value in the editor's text. In
// a templated config the parsed spans are in the rendered text, so the
// value is looked for in the source instead.
func targetRange(doc *document, res *schema.Result, r configref.Ref) protocol.Range {
	text := doc.doc.Text()
	start, end := 0, 0
	if r.HasSpan && string(res.Rendered) == text && r.TargetEnd <= len(text) {
		start, end = r.TargetStart, r.TargetEnd
	} else if i := strings.Index(text, r.Target); i >= 0 {
		start, end = i, i+len(r.Target)
	}
	sl, sc := doc.doc.Position(start)
	el, ec := doc.doc.Position(end)
	return protocol.Range{
		Start: protocol.Position{Line: clampU32(sl), Character: clampU32(sc)},
		End:   protocol.Position{Line: clampU32(el), Character: clampU32(ec)},
	}
}
