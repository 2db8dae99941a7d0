// Package settings is what the intproxy and `mirrord exec` need from a
// mirrord configuration: the file-system mode and patterns, outgoing/DNS
// filters, incoming subscription rules, the environment merge, process
// skipping, the intproxy timeouts and the agent address. It is a
// projection of the config engine's resolved schema.Config, made by the
// session (session.ResolveConfig) — the environment's MIRRORD_* overrides
// are read once, by the config engine — so the intproxy depends only on
// this small struct and on protocol.
//
// Settings travel from `mirrord exec` to `mirrord intproxy` as JSON in the
// MIRRORD_INTPROXY_SETTINGS variable.
package settings

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// EnvVar carries the JSON settings from `mirrord exec` to the intproxy.
const EnvVar = "MIRRORD_INTPROXY_SETTINGS"

// File-system modes.
const (
	FSRead               = "read"
	FSWrite              = "write"
	FSLocal              = "local"
	FSLocalWithOverrides = "localwithoverrides"
)

// Incoming modes.
const (
	IncomingMirror = "mirror"
	IncomingSteal  = "steal"
	IncomingOff    = "off"
)

// Settings is everything the layer side of a session decides with.
type Settings struct {
	Agent      Agent    `json:"agent"`
	Target     string   `json:"target,omitempty"` // for display ("targetless" when empty)
	Targetless bool     `json:"targetless,omitempty"`
	FS         FS       `json:"fs"`
	Outgoing   Outgoing `json:"outgoing"`
	DNS        DNS      `json:"dns"`
	Incoming   Incoming `json:"incoming"`
	Env        Env      `json:"env"`

	SkipProcesses       []string `json:"skip_processes,omitempty"`
	SkipBuildTools      bool     `json:"skip_build_tools"`
	SkipExtraBuildTools []string `json:"skip_extra_build_tools,omitempty"`

	InternalProxy InternalProxy `json:"internal_proxy"`
}

// Agent is where the (already running) agent listens.
type Agent struct {
	Address string `json:"address,omitempty"` // HOST:PORT
	Token   string `json:"token,omitempty"`
}

// FS is feature.fs.
type FS struct {
	Mode      string   `json:"mode"`
	ReadWrite []string `json:"read_write,omitempty"`
	ReadOnly  []string `json:"read_only,omitempty"`
	Local     []string `json:"local,omitempty"`
	NotFound  []string `json:"not_found,omitempty"`
}

// AddressFilter is outgoing.filter or dns.filter: at most one side is set.
type AddressFilter struct {
	Local  []string `json:"local,omitempty"`
	Remote []string `json:"remote,omitempty"`
}

// Outgoing is feature.network.outgoing.
type Outgoing struct {
	TCP             bool          `json:"tcp"`
	UDP             bool          `json:"udp"`
	IgnoreLocalhost bool          `json:"ignore_localhost,omitempty"`
	Filter          AddressFilter `json:"filter"`
	UnixStreams     []string      `json:"unix_streams,omitempty"`
}

// DNS is feature.network.dns.
type DNS struct {
	Enabled bool          `json:"enabled"`
	Filter  AddressFilter `json:"filter"`
}

// Incoming is feature.network.incoming.
type Incoming struct {
	Mode            string               `json:"mode"`
	PortMapping     [][2]uint16          `json:"port_mapping,omitempty"` // [local, remote]
	ListenPorts     [][2]uint16          `json:"listen_ports,omitempty"` // [requested, bound]
	IgnoreLocalhost bool                 `json:"ignore_localhost,omitempty"`
	IgnorePorts     []uint16             `json:"ignore_ports,omitempty"`
	Ports           []uint16             `json:"ports,omitempty"` // nil: all
	HTTPFilter      *protocol.HTTPFilter `json:"http_filter,omitempty"`
	HTTPFilterPorts []uint16             `json:"http_filter_ports,omitempty"` // nil: all
}

// Env is feature.env.
type Env struct {
	Include  []string          `json:"include,omitempty"`
	Exclude  []string          `json:"exclude,omitempty"`
	EnvFile  string            `json:"env_file,omitempty"`
	Mapping  map[string]string `json:"mapping,omitempty"` // name regex -> value
	Override map[string]string `json:"override,omitempty"`
	Unset    []string          `json:"unset,omitempty"`
	Disabled bool              `json:"disabled,omitempty"` // feature.env: false
}

// InternalProxy holds the intproxy timeouts.
type InternalProxy struct {
	StartIdleTimeout Duration `json:"start_idle_timeout"`
	IdleTimeout      Duration `json:"idle_timeout"`
}

// Duration is a time.Duration that encodes as seconds in JSON.
type Duration time.Duration

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want seconds: %w", err)
	}
	if s < 0 {
		return fmt.Errorf("duration: %v seconds is negative", s)
	}
	*d = Duration(time.Duration(s * float64(time.Second)))
	return nil
}

// Default returns mirrord's defaults.
func Default() Settings {
	return Settings{
		FS:             FS{Mode: FSRead},
		Outgoing:       Outgoing{TCP: true, UDP: true},
		DNS:            DNS{Enabled: true},
		Incoming:       Incoming{Mode: IncomingMirror},
		SkipBuildTools: true,
		InternalProxy: InternalProxy{
			StartIdleTimeout: Duration(60 * time.Second),
			IdleTimeout:      Duration(5 * time.Second),
		},
	}
}

// Validate checks values the intproxy relies on.
func (s *Settings) Validate() error {
	switch s.FS.Mode {
	case FSRead, FSWrite, FSLocal, FSLocalWithOverrides:
	default:
		return fmt.Errorf("feature.fs.mode %q: want read, write, local or localwithoverrides", s.FS.Mode)
	}
	switch s.Incoming.Mode {
	case IncomingMirror, IncomingSteal, IncomingOff:
	default:
		return fmt.Errorf("feature.network.incoming.mode %q: want mirror, steal or off", s.Incoming.Mode)
	}
	if len(s.Outgoing.Filter.Local) > 0 && len(s.Outgoing.Filter.Remote) > 0 {
		return fmt.Errorf("feature.network.outgoing.filter: set either local or remote, not both")
	}
	if len(s.DNS.Filter.Local) > 0 && len(s.DNS.Filter.Remote) > 0 {
		return fmt.Errorf("feature.network.dns.filter: set either local or remote, not both")
	}
	if s.Incoming.HTTPFilter != nil {
		if err := s.Incoming.HTTPFilter.Validate("feature.network.incoming.http_filter"); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns the JSON for EnvVar.
func (s *Settings) Encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode settings: %w", err)
	}
	return string(b), nil
}

// Decode parses the JSON of EnvVar.
func Decode(data string) (Settings, error) {
	s := Default()
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return Settings{}, fmt.Errorf("decode intproxy settings: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// BuildTools is mirrord's built-in skip list (skip_build_tools).
var BuildTools = []string{
	"as", "cc", "ld", "go", "air", "asm", "cc1", "cgo", "dlv", "gcc", "git", "link", "math", "cargo",
	"hpack", "rustc", "compile", "collect2", "cargo-watch", "debugserver", "jspawnhelper", "bazel-real",
	"clang", "JetBrains.Debugger.Worker",
}

// SkipProcess reports whether a process with one of these names (the
// executable's base name, argv[0]'s base name) runs without hooks.
func (s *Settings) SkipProcess(names ...string) bool {
	for _, n := range names {
		if n == "" {
			continue
		}
		if slices.Contains(s.SkipProcesses, n) {
			return true
		}
		if s.SkipBuildTools && (slices.Contains(BuildTools, n) || slices.Contains(s.SkipExtraBuildTools, n)) {
			return true
		}
	}
	return false
}
