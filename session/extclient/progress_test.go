package extclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadProgress(t *testing.T) {
	const ok = `{"type":"FinishedTask","name":"mirrord preparing to launch","success":true,"message":"{\"environment\":{\"A\":\"1\"},\"patched_path\":null,\"env_to_unset\":[\"B\"],\"uses_operator\":false}"}`
	for _, tc := range []struct {
		name, in  string
		wantLines int
		wantEnv   string
		wantErr   error
		errText   string
	}{
		{name: "contract", in: `{"type":"NewTask","name":"mirrord preparing to launch","parent":null}
{"type":"NewTask","name":"starting agent","parent":"mirrord preparing to launch"}
{"type":"FinishedTask","name":"starting agent","success":true,"message":"ready"}
{"type":"Info","message":"session ID: abc"}
` + ok + "\n", wantLines: 5, wantEnv: "1"},
		{name: "noise and blank lines skipped", in: "\n\nnot json\n{broken\n" + `{"no":"type"}` + "\n  " + ok + "  \n", wantLines: 1, wantEnv: "1"},
		{name: "ends at the root task", in: ok + "\n" + `{"type":"Info","message":"after"}` + "\n", wantLines: 1, wantEnv: "1"},
		{name: "no CRLF trouble", in: strings.ReplaceAll(ok, "\n", "") + "\r\n", wantLines: 1, wantEnv: "1"},
		{name: "root failed", in: `{"type":"FinishedTask","name":"mirrord preparing to launch","success":false,"message":null}` + "\n", wantLines: 1, wantErr: errRootFailed},
		{name: "eof without result", in: `{"type":"NewTask","name":"x","parent":null}`, wantLines: 1, wantErr: errNoResult},
		{name: "bad execution", in: `{"type":"FinishedTask","name":"mirrord preparing to launch","success":true,"message":"{"}` + "\n", wantLines: 1, errText: "line 1: the launch environment is not a MirrordExecution"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lines []Line
			ex, err := ReadProgress(strings.NewReader(tc.in), func(l Line) { lines = append(lines, l) })
			if len(lines) != tc.wantLines {
				t.Errorf("%d lines, want %d: %+v", len(lines), tc.wantLines, lines)
			}
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err %v, want %q", err, tc.errText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if ex.Environment["A"] != tc.wantEnv || len(ex.EnvToUnset) != 1 || ex.EnvToUnset[0] != "B" {
					t.Errorf("execution %+v", ex)
				}
			}
		})
	}
}

func TestReadProgressLongLine(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	in := `{"type":"FinishedTask","name":"mirrord preparing to launch","success":true,"message":"{\"environment\":{\"BIG\":\"` + big + `\"},\"env_to_unset\":[]}"}` + "\n"
	ex, err := ReadProgress(strings.NewReader(in), nil)
	if err != nil || len(ex.Environment["BIG"]) != len(big) {
		t.Fatalf("%v", err)
	}
}

func TestLineText(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`"plain"`, "plain"},
		{`{"text":"ide text","type":"Info"}`, "ide text"},
		{`null`, ""},
		{``, ""},
		{`42`, ""},
	} {
		if got := (Line{Message: []byte(tc.raw)}).Text(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     *Error
	}{
		{"none", "some log\n", nil},
		{"one", `Error: {"message":"bad config","severity":"error","causes":["at feature.fs"],"help":"fix it","labels":[],"related":[]}` + "\n",
			&Error{Message: "bad config", Causes: []string{"at feature.fs"}, Help: "fix it"}},
		{"last wins, noise skipped", "Error: not json\n" + `Error: {"message":"first"}` + "\nlog\n" + `Error: {"message":"second"}` + "\n",
			&Error{Message: "second", Causes: []string{}}},
		{"empty message ignored", `Error: {"message":""}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseError([]byte(tc.in))
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got != nil && (got.Message != tc.want.Message || got.Help != tc.want.Help || strings.Join(got.Causes, "|") != strings.Join(tc.want.Causes, "|")) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if msg := (&Error{Message: "a", Causes: []string{"b", "c"}}).Error(); msg != "a: b: c" {
		t.Errorf("Error() = %q", msg)
	}
}

func seedFuzz(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func FuzzReadProgress(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		ex, err := ReadProgress(strings.NewReader(string(in)), func(l Line) { _ = l.Text() })
		if err == nil && ex == nil {
			t.Fatal("nil execution without an error")
		}
		if err == nil && ex.Environment == nil {
			t.Fatal("nil environment")
		}
	})
}

func FuzzParseError(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if e := ParseError(in); e != nil && (e.Message == "" || e.Causes == nil) {
			t.Fatalf("incomplete report %+v", e)
		}
	})
}
