package protocol

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// Kind names the operation of a stream.
type Kind string

// Stream kinds opened by the client.
const (
	KindEnv       Kind = "env"       // one EnvRequest, one response
	KindDNS       Kind = "dns"       // one DNSRequest, one response
	KindTCP       Kind = "tcp"       // ConnectRequest; then the connection's bytes
	KindUDP       Kind = "udp"       // ConnectRequest; then datagrams (WriteDatagram)
	KindUnix      Kind = "unix"      // ConnectRequest{Path}; then the connection's bytes
	KindFile      Kind = "file"      // one FileRequest on a path, one response
	KindOpen      Kind = "open"      // FileRequest{Op: open}; then HandleRequest/response pairs
	KindSubscribe Kind = "subscribe" // SubscribeRequest; the stream lives as long as the subscription
)

// Stream kinds opened by the agent.
const (
	// KindIncoming carries one incoming connection (steal, mirror) or one
	// HTTP request (filtered steal) towards the client. Its first message is
	// an Incoming header; no response is expected.
	KindIncoming Kind = "incoming"
)

// Request is the first message on a client-opened stream. Exactly the field
// matching Kind is set.
type Request struct {
	Kind      Kind              `json:"kind"`
	Env       *EnvRequest       `json:"env,omitempty"`
	DNS       *DNSRequest       `json:"dns,omitempty"`
	Connect   *ConnectRequest   `json:"connect,omitempty"`
	File      *FileRequest      `json:"file,omitempty"`
	Subscribe *SubscribeRequest `json:"subscribe,omitempty"`
}

// Validate checks that the request is well formed: a known kind with its
// body and no other.
func (r *Request) Validate() error {
	set := 0
	for _, b := range []bool{r.Env != nil, r.DNS != nil, r.Connect != nil, r.File != nil, r.Subscribe != nil} {
		if b {
			set++
		}
	}
	var ok bool
	switch r.Kind {
	case KindEnv:
		ok = r.Env != nil
	case KindDNS:
		ok = r.DNS != nil
	case KindTCP, KindUDP, KindUnix:
		ok = r.Connect != nil
	case KindFile, KindOpen:
		ok = r.File != nil
	case KindSubscribe:
		ok = r.Subscribe != nil
	default:
		return fmt.Errorf("unknown stream kind %q", r.Kind)
	}
	if !ok || set != 1 {
		return fmt.Errorf("stream kind %q needs exactly its own request body", r.Kind)
	}
	if r.Subscribe != nil {
		return r.Subscribe.Validate()
	}
	return nil
}

// Response answers a Request (or a HandleRequest). Error is set on failure;
// otherwise the field matching the request is set (if it has one).
type Response struct {
	Error     *Error             `json:"error,omitempty"`
	Env       map[string]string  `json:"env,omitempty"`
	DNS       *DNSResponse       `json:"dns,omitempty"`
	Connect   *ConnectResponse   `json:"connect,omitempty"`
	File      *FileResponse      `json:"file,omitempty"`
	Subscribe *SubscribeResponse `json:"subscribe,omitempty"`
}

// ErrorCode classifies an Error.
type ErrorCode string

// Error codes.
const (
	CodeBadRequest  ErrorCode = "bad_request" // malformed or invalid request
	CodeUnsupported ErrorCode = "unsupported" // kind/feature not available in this agent mode
	CodeIO          ErrorCode = "io"          // an OS call failed; Errno says which
	CodeDNS         ErrorCode = "dns"         // name resolution failed; EAI says how
	CodeForbidden   ErrorCode = "forbidden"   // a path escapes the target root
	CodePortInUse   ErrorCode = "port_in_use" // the port is already stolen without a filter
	CodeTimeout     ErrorCode = "timeout"     // a connect or query timed out
	CodeInternal    ErrorCode = "internal"    // the agent failed
)

// Error is a failed operation as reported by the agent.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Errno is the Linux errno of a failed OS call (CodeIO, CodeTimeout), 0 if none.
	Errno int `json:"errno,omitempty"`
	// EAI is the getaddrinfo error (EAI* constants, negative) for CodeDNS.
	EAI int `json:"eai,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("agent: %s: %s", e.Code, e.Message)
}

// Unwrap exposes the errno so errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, syscall.ECONNREFUSED) work on agent errors.
func (e *Error) Unwrap() error {
	if e.Errno != 0 {
		return syscall.Errno(e.Errno)
	}
	return nil
}

// Errorf builds an Error.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorFrom turns a Go error into an Error, keeping the errno of OS errors.
func ErrorFrom(code ErrorCode, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	e := &Error{Code: code, Message: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Errno = int(errno)
		if errno == syscall.ETIMEDOUT {
			e.Code = CodeTimeout
		}
	}
	return e
}

// getaddrinfo error codes (glibc values).
const (
	EAIBadFlags   = -1
	EAINoName     = -2
	EAIAgain      = -3
	EAIFail       = -4
	EAINoData     = -5
	EAIFamily     = -6
	EAISockType   = -7
	EAIService    = -8
	EAIAddrFamily = -9
	EAIMemory     = -10
	EAISystem     = -11
)

// EnvRequest asks for the target's environment. A variable is returned when
// its name matches one of Include (all when Include is empty) and none of
// Exclude. Patterns are globs: * any run, ? one character, [...] a class.
type EnvRequest struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Family selects the address families of a DNS lookup.
type Family string

// Address families.
const (
	FamilyAny  Family = "any" // A and AAAA
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

// DNSRequest resolves Host like getaddrinfo in the target.
type DNSRequest struct {
	Host   string `json:"host"`
	Family Family `json:"family,omitempty"`
}

// DNSResponse lists the addresses found (hosts file first, then DNS).
type DNSResponse struct {
	Addrs []netip.Addr `json:"addrs"`
	// Canonical is the canonical name when DNS returned a CNAME chain.
	Canonical string `json:"canonical,omitempty"`
}

// ConnectRequest opens an outgoing connection in the target: Addr
// ("host:port", IP literal) for tcp/udp, Path for unix.
type ConnectRequest struct {
	Addr string `json:"addr,omitempty"`
	Path string `json:"path,omitempty"`
}

// ConnectResponse reports the addresses of a new outgoing connection as seen
// in the target.
type ConnectResponse struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
}
