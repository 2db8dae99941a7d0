// Package registry makes local mirrord sessions visible to every client on
// the machine. Each session (its intproxy process) serves a small HTTP API on
// a Unix socket <dir>/<id>.sock:
//
//	GET  /info    the session's Info as JSON
//	GET  /events  server-sent events (Event as JSON in each data line)
//	POST /kill    ends the session
//
// The CLI (`mirrord session`), every editor (through mirrord-ls) and the
// session itself agree on the directory, so sessions outlive the server that
// started them, and restarting mirrord-ls stops nothing. A socket whose
// owner died is stale: listing removes it.
package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// EnvDir overrides the session directory (tests, several users on one box).
const EnvDir = "MIRRORD_SESSIONS_DIR"

// DefaultDir is the per-user session directory: $MIRRORD_SESSIONS_DIR, else
// ~/.mirrord/sessions as the official mirrord CLI uses.
func DefaultDir(lookup func(string) (string, bool)) (string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if d, ok := lookup(EnvDir); ok && d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("session directory: %w", err)
	}
	return filepath.Join(home, ".mirrord", "sessions"), nil
}

// validID keeps ids usable as file names and in URLs.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CheckID reports whether id can name a session.
func CheckID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("invalid session id %q: use 1-64 letters, digits, '.', '_' or '-'", id)
	}
	return nil
}

// SocketPath is where session id listens.
func SocketPath(dir, id string) string { return filepath.Join(dir, id+".sock") }

// Process is one local process in the session.
type Process struct {
	PID       int      `json:"pid"`
	ParentPID int      `json:"parent_pid"`
	Name      string   `json:"process_name"`
	Cmdline   []string `json:"cmdline,omitempty"`
}

// PortSubscription is an incoming port the session mirrors or steals.
type PortSubscription struct {
	Port   uint16 `json:"port"`
	Mode   string `json:"mode"`             // mirror | steal
	Filter string `json:"filter,omitempty"` // the HTTP filter, in words
}

// Info describes a session; GET /info returns it.
type Info struct {
	ID                string             `json:"session_id"`
	Key               string             `json:"key,omitempty"`
	Target            string             `json:"target"`
	Namespace         string             `json:"namespace,omitempty"`
	Context           string             `json:"context,omitempty"`
	StartedAt         time.Time          `json:"started_at"`
	Branch            string             `json:"branch,omitempty"`
	ConfigPath        string             `json:"config_path,omitempty"`
	Version           string             `json:"mirrord_version"`
	PID               int                `json:"pid"` // the session (intproxy) process
	Agent             string             `json:"agent,omitempty"`
	Processes         []Process          `json:"processes"`
	PortSubscriptions []PortSubscription `json:"port_subscriptions"`
}

// Event is one thing that happened in a session; GET /events streams them.
type Event struct {
	Type    string            `json:"type"` // process_started, process_exited, port_subscribed, port_unsubscribed, message, ending
	Time    time.Time         `json:"time"`
	Message string            `json:"message,omitempty"`
	Process *Process          `json:"process,omitempty"`
	Port    *PortSubscription `json:"port,omitempty"`
}

// ErrNotFound: no live session has that id.
var ErrNotFound = errors.New("no such session")
