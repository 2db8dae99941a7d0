package protocol

import (
	"fmt"
)

// Mode of an incoming subscription.
type Mode string

// Incoming modes.
const (
	// ModeMirror: connections go on to the real app, which answers; the
	// client receives a copy of the bytes the peer sent.
	ModeMirror Mode = "mirror"
	// ModeSteal: connections (or, with a filter, matching HTTP requests) go
	// to the client, which answers.
	ModeSteal Mode = "steal"
)

// SubscribeRequest subscribes to the target's TCP port Port.
type SubscribeRequest struct {
	// ID is chosen by the client, unique within its connection, and carried
	// by every Incoming stream of this subscription.
	ID     uint64      `json:"id"`
	Port   uint16      `json:"port"`
	Mode   Mode        `json:"mode"`
	Filter *HTTPFilter `json:"filter,omitempty"`
}

// Validate checks the request's shape (regexes are compiled by the agent).
func (s *SubscribeRequest) Validate() error {
	if s.Port == 0 {
		return fmt.Errorf("subscribe: port 0")
	}
	if s.Mode != ModeMirror && s.Mode != ModeSteal {
		return fmt.Errorf("subscribe: mode %q: want mirror or steal", s.Mode)
	}
	if s.Filter != nil {
		if err := s.Filter.Validate("filter"); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	return nil
}

// SubscribeResponse confirms a subscription.
type SubscribeResponse struct {
	// Port is the subscribed port.
	Port uint16 `json:"port"`
}

// MaxFilterDepth bounds the nesting of all_of/any_of.
const MaxFilterDepth = 16

// HTTPFilter selects HTTP requests. Exactly one field is set. Regexes use
// the .NET-like syntax of dlclark/regexp2 (look-around allowed) and are
// case-insensitive, like mirrord's (?i).
type HTTPFilter struct {
	// Header matches "Name: value" of any header.
	Header string `json:"header,omitempty"`
	// Path matches the path, then the path with its query.
	Path string `json:"path,omitempty"`
	// Method matches the method, case-insensitively.
	Method string `json:"method,omitempty"`
	// AllOf matches when every filter matches.
	AllOf []HTTPFilter `json:"all_of,omitempty"`
	// AnyOf matches when one filter matches.
	AnyOf []HTTPFilter `json:"any_of,omitempty"`
}

// Validate checks that each node sets exactly one field and that the tree is
// not too deep; at names the node in errors ("filter.all_of[1]").
func (f *HTTPFilter) Validate(at string) error {
	return f.validate(at, 0)
}

func (f *HTTPFilter) validate(at string, depth int) error {
	if depth > MaxFilterDepth {
		return fmt.Errorf("%s: nested deeper than %d", at, MaxFilterDepth)
	}
	set := 0
	if f.Header != "" {
		set++
	}
	if f.Path != "" {
		set++
	}
	if f.Method != "" {
		set++
	}
	if f.AllOf != nil {
		set++
	}
	if f.AnyOf != nil {
		set++
	}
	if set != 1 {
		return fmt.Errorf("%s: set exactly one of header, path, method, all_of, any_of", at)
	}
	for i := range f.AllOf {
		if err := f.AllOf[i].validate(fmt.Sprintf("%s.all_of[%d]", at, i), depth+1); err != nil {
			return err
		}
	}
	for i := range f.AnyOf {
		if err := f.AnyOf[i].validate(fmt.Sprintf("%s.any_of[%d]", at, i), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Incoming is the first message of an agent-opened stream.
type Incoming struct {
	Kind Kind `json:"kind"` // KindIncoming
	// Subscription is SubscribeRequest.ID.
	Subscription uint64 `json:"subscription"`
	Mode         Mode   `json:"mode"`
	// HTTP is set when the stream carries exactly one HTTP/1.x request
	// (filtered steal): the client reads the request and writes one
	// response; the agent sends it to the peer and keeps the peer's
	// connection alive.
	HTTP bool `json:"http,omitempty"`
	// Remote is the peer's address, Local the original destination
	// (target address and subscribed port).
	Remote string `json:"remote"`
	Local  string `json:"local"`
}
