package extclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RootTask is the title of `mirrord ext`'s root task; its final
// FinishedTask carries the MirrordExecution (reference ide-contract.md §3.4).
const RootTask = "mirrord preparing to launch"

// Line is one progress line of `mirrord ext` in JSON mode.
type Line struct {
	Type    string  `json:"type"` // NewTask, FinishedTask, Warning, Info, IdeMessage
	Name    string  `json:"name"`
	Parent  *string `json:"parent"`
	Success *bool   `json:"success"`
	// Message is a string for every type but IdeMessage (an object).
	Message json.RawMessage `json:"message"`
}

// Text is the line's message as text ("" when absent).
func (l Line) Text() string {
	var s string
	if json.Unmarshal(l.Message, &s) == nil {
		return s
	}
	var ide struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(l.Message, &ide) == nil {
		return ide.Text
	}
	return ""
}

// Execution is MirrordExecution, the result of `mirrord ext`.
type Execution struct {
	Environment  map[string]string `json:"environment"`
	PatchedPath  *string           `json:"patched_path"`
	EnvToUnset   []string          `json:"env_to_unset"`
	UsesOperator bool              `json:"uses_operator"`
}

// errNoResult: stdout ended before the root task finished.
var errNoResult = errors.New("mirrord ext ended without a result")

// errRootFailed: the root task finished unsuccessfully.
var errRootFailed = errors.New("mirrord ext failed")

// ReadProgress reads `mirrord ext` stdout as the editors do: a line scanner
// with a large buffer, blank and non-JSON lines skipped. Every line is
// passed to fn; reading ends at the FinishedTask of the root task, whose
// message (a JSON string) is decoded into the Execution.
func ReadProgress(r io.Reader, fn func(Line)) (*Execution, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 32<<20)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] != '{' {
			continue
		}
		var l Line
		if err := json.Unmarshal(text, &l); err != nil || l.Type == "" {
			continue
		}
		if fn != nil {
			fn(l)
		}
		if l.Type != "FinishedTask" || l.Name != RootTask {
			continue
		}
		if l.Success == nil || !*l.Success {
			return nil, errRootFailed
		}
		var exec Execution
		if err := json.Unmarshal([]byte(l.Text()), &exec); err != nil {
			return nil, fmt.Errorf("line %d: the launch environment is not a MirrordExecution: %w", n, err)
		}
		if exec.Environment == nil {
			exec.Environment = map[string]string{}
		}
		return &exec, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mirrord ext output after line %d: %w", n, err)
	}
	return nil, errNoResult
}

// Error is the `Error: {json}` report of `mirrord ext` (miette's JSON).
type Error struct {
	Message string   `json:"message"`
	Causes  []string `json:"causes"`
	Help    string   `json:"help,omitempty"`
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Causes) > 0 {
		msg += ": " + strings.Join(e.Causes, ": ")
	}
	return msg
}

// ParseError returns the last `Error: {json}` line of stderr, or nil.
func ParseError(stderr []byte) *Error {
	var found *Error
	for line := range bytes.Lines(stderr) {
		line = bytes.TrimSpace(line)
		rest, ok := bytes.CutPrefix(line, []byte("Error:"))
		if !ok {
			continue
		}
		var e Error
		if json.Unmarshal(bytes.TrimSpace(rest), &e) == nil && e.Message != "" {
			if e.Causes == nil {
				e.Causes = []string{}
			}
			found = &e
		}
	}
	return found
}
