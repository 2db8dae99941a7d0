package server

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/server/lsp"
)

// latencies collects samples and reports p50/p99 in milliseconds.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	q := func(p float64) float64 {
		i := int(p * float64(len(l)-1))
		return float64(l[i].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkStartup measures process start to the initialize answer.
func BenchmarkStartup(b *testing.B) {
	bin := buildServer(b, b.TempDir())
	dir := b.TempDir()
	var lat latencies
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c, _ := startProcess(b, bin)
		c.call("initialize", map[string]any{"capabilities": map[string]any{}, "rootUri": lsp.URIFromPath(dir)}, nil)
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if code := c.shutdownAndExit(); code != 0 {
			b.Fatalf("exit code %d", code)
		}
		b.StartTimer()
	}
	lat.report(b)
}

// BenchmarkDidChangeDiagnostics measures didChange to publishDiagnostics on
// the complete example config.
func BenchmarkDidChangeDiagnostics(b *testing.B) {
	c := startClient(b, Options{})
	dir := b.TempDir()
	c.initialize(dir)
	text := completeConfig(b)
	uri := c.open(dir, "mirrord.json", text)
	c.diagnostics(uri, nil)
	// Each edit flips one character of a value back and forth on line 1.
	lines := strings.Split(text, "\n")
	line := 1
	col := uint32(len(lines[line]))
	var lat latencies
	b.ResetTimer()
	for i := range b.N {
		v := int32(i + 2)
		insert := " "
		rng := protocol.Range{Start: protocol.Position{Line: uint32(line), Character: col}, End: protocol.Position{Line: uint32(line), Character: col}}
		if i%2 == 1 {
			rng.End.Character = col + 1
			insert = ""
		}
		c.mu.Lock()
		c.notes = c.notes[:0] // keep the client's scan short
		c.mu.Unlock()
		start := time.Now()
		c.notify("textDocument/didChange", lsp.DidChangeTextDocumentParams{
			TextDocument:   protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: uri}, Version: v},
			ContentChanges: []lsp.TextDocumentContentChangeEvent{{Range: &rng, Text: insert}},
		})
		c.diagnostics(uri, func(p lsp.PublishDiagnosticsParams) bool { return p.Version != nil && *p.Version == v })
		lat = append(lat, time.Since(start))
	}
	lat.report(b)
}

// BenchmarkCompletion measures completion requests in the complete example
// config (a key position inside "feature") and in a half-typed document.
func BenchmarkCompletion(b *testing.B) {
	c := startClient(b, Options{})
	dir := b.TempDir()
	c.initialize(dir)
	text := completeConfig(b)
	uri := c.open(dir, "mirrord.json", text)
	lines := strings.Split(text, "\n")
	line := -1
	for i, l := range lines {
		if strings.Contains(l, `"feature"`) {
			line = i + 1
			break
		}
	}
	if line < 0 {
		b.Fatal(`no "feature" in the example config`)
	}
	partial := c.open(dir, "partial-mirrord.json", `{"feature": {"fs": {"mo`)
	positions := []protocol.TextDocumentPositionParams{
		{TextDocument: protocol.TextDocumentIdentifier{URI: uri}, Position: protocol.Position{Line: uint32(line), Character: 5}},
		{TextDocument: protocol.TextDocumentIdentifier{URI: partial}, Position: protocol.Position{Line: 0, Character: 23}},
	}
	var lat latencies
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		var list protocol.CompletionList
		c.call("textDocument/completion", protocol.CompletionParams{TextDocumentPositionParams: positions[i%2]}, &list)
		lat = append(lat, time.Since(start))
		if len(list.Items) == 0 {
			b.Fatal("no completion items")
		}
	}
	lat.report(b)
}

// BenchmarkMemory10Configs measures the resident memory of the real
// process with ten configs open and validated.
func BenchmarkMemory10Configs(b *testing.B) {
	bin := buildServer(b, b.TempDir())
	var corpus []string
	files, _ := filepath.Glob("../testdata/configs/valid/*.json")
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			corpus = append(corpus, string(data))
		}
	}
	corpus = append(corpus, completeConfig(b))
	var rss []float64
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		c, cmd := startProcess(b, bin)
		c.initialize(dir)
		for i := range 10 {
			text := corpus[(len(corpus)-1+i)%len(corpus)]
			uri := c.open(dir, fmt.Sprintf("c%d-mirrord.json", i), text)
			c.diagnostics(uri, nil)
		}
		mb, err := residentMB(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, mb)
		b.StopTimer()
		c.shutdownAndExit()
		b.StartTimer()
	}
	sort.Float64s(rss)
	b.ReportMetric(rss[len(rss)-1], "max-rss-MB")
}

// residentMB reads VmRSS of a process from /proc.
func residentMB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the process status: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0, fmt.Errorf("parsing %q: %w", line, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
