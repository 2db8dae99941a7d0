package schema

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

func TestScratch(t *testing.T) {
	p := os.Getenv("SCRATCH")
	if p == "" {
		t.Skip()
	}
	b, _ := os.ReadFile(p)
	r := Verify(context.Background(), b, Options{Path: p, Env: func(string) (string, bool) { return "", false }})
	for _, d := range r.Diagnostics {
		t.Logf("%d:%d-%d:%d %s %s [%s] %s (%s)", d.Range.Start.Line, d.Range.Start.Column, d.Range.End.Line, d.Range.End.Column, d.Severity, d.Code, d.Pointer, d.Message, d.Suggestion)
	}
	if r.Config != nil {
		j, _ := json.MarshalIndent(r.Config, "", " ")
		t.Logf("%s", j)
	}
}
