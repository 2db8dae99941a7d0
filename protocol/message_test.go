package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		data []byte
	}{
		{"env", Request{Kind: KindEnv, Env: &EnvRequest{Include: []string{"A*"}}}, nil},
		{"file with data", Request{Kind: KindFile, File: &FileRequest{Op: OpReadFile, Path: "/etc/hosts"}}, []byte("payload")},
		{"subscribe", Request{Kind: KindSubscribe, Subscribe: &SubscribeRequest{ID: 7, Port: 80, Mode: ModeSteal,
			Filter: &HTTPFilter{AllOf: []HTTPFilter{{Header: "x: y"}, {Path: "^(?!/health)"}}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMessage(&buf, &tt.req, tt.data); err != nil {
				t.Fatal(err)
			}
			var got Request
			data, err := ReadMessage(&buf, &got, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.req.Kind || !bytes.Equal(data, tt.data) {
				t.Fatalf("got %+v %q", got, data)
			}
		})
	}
}

func TestReadMessageErrors(t *testing.T) {
	frame := func(h string, dlen uint32, data string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(h)))
		b = append(b, h...)
		b = binary.BigEndian.AppendUint32(b, dlen)
		return append(b, data...)
	}
	tests := []struct {
		name    string
		in      []byte
		maxData int
		want    error
	}{
		{"empty", nil, 0, io.EOF},
		{"cut length", []byte{0, 0}, 0, io.ErrUnexpectedEOF},
		{"cut header", frame(`{"kind":"env"}`, 0, "")[:8], 0, io.ErrUnexpectedEOF},
		{"header too large", binary.BigEndian.AppendUint32(nil, MaxHeaderSize+1), 0, ErrTooLarge},
		{"data over limit", frame(`{}`, 10, "0123456789"), 4, ErrTooLarge},
		{"cut data", frame(`{}`, 10, "01234"), 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			_, err := ReadMessage(bytes.NewReader(tt.in), &r, tt.maxData)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	var r Request
	if _, err := ReadMessage(bytes.NewReader(frame(`{"kind":`, 0, "")), &r, 0); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

func TestRequestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		ok   bool
	}{
		{"ok", Request{Kind: KindTCP, Connect: &ConnectRequest{Addr: "1.2.3.4:5"}}, true},
		{"unknown kind", Request{Kind: "nope"}, false},
		{"missing body", Request{Kind: KindDNS}, false},
		{"two bodies", Request{Kind: KindDNS, DNS: &DNSRequest{}, Env: &EnvRequest{}}, false},
		{"port 0", Request{Kind: KindSubscribe, Subscribe: &SubscribeRequest{Mode: ModeSteal}}, false},
		{"bad mode", Request{Kind: KindSubscribe, Subscribe: &SubscribeRequest{Port: 1, Mode: "copy"}}, false},
		{"filter with two fields", Request{Kind: KindSubscribe, Subscribe: &SubscribeRequest{Port: 1, Mode: ModeSteal,
			Filter: &HTTPFilter{Header: "a", Path: "b"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.req.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFilterDepth(t *testing.T) {
	f := HTTPFilter{Path: "x"}
	for i := 0; i < MaxFilterDepth+2; i++ {
		f = HTTPFilter{AnyOf: []HTTPFilter{f}}
	}
	if err := f.Validate("filter"); err == nil {
		t.Fatal("over-deep filter accepted")
	}
}

func TestDatagram(t *testing.T) {
	var buf bytes.Buffer
	for _, d := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("y"), MaxDatagramSize)} {
		if err := WriteDatagram(&buf, d); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, MaxDatagramSize)
		n, err := ReadDatagram(&buf, out)
		if err != nil || !bytes.Equal(out[:n], d) {
			t.Fatalf("datagram of %d: got %d, %v", len(d), n, err)
		}
	}
	if err := WriteDatagram(&buf, make([]byte, MaxDatagramSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized datagram: %v", err)
	}
}

func TestCompatible(t *testing.T) {
	for v, ok := range map[string]bool{Version: true, "1.99": true, "2.0": false, "0.9": false, "1": false, "x.y": false, "": false, "-1.0": false} {
		if err := Compatible(v); (err == nil) != ok {
			t.Errorf("Compatible(%q) = %v, want ok=%v", v, err, ok)
		}
	}
}

func TestTokenEqual(t *testing.T) {
	if !TokenEqual("abc", "abc") || TokenEqual("abc", "abd") || TokenEqual("", "abc") || TokenEqual("abc", "abcd") {
		t.Fatal("TokenEqual is wrong")
	}
}

func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	WriteMessage(&buf, &Request{Kind: KindSubscribe, Subscribe: &SubscribeRequest{ID: 1, Port: 80, Mode: ModeMirror, Filter: &HTTPFilter{Header: "a"}}}, []byte("data"))
	f.Add(buf.Bytes())
	buf.Reset()
	WriteMessage(&buf, &Response{Error: &Error{Code: CodeIO, Message: "x", Errno: 2}}, nil)
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		data, err := ReadMessage(bytes.NewReader(b), &r, 1<<16)
		if err != nil {
			return
		}
		if len(data) > 1<<16 {
			t.Fatalf("data of %d bytes over the limit", len(data))
		}
		_ = r.Validate()
		var resp Response
		_, _ = ReadMessage(bytes.NewReader(b), &resp, 1<<16)
	})
}

func FuzzReadDatagram(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		out := make([]byte, 16)
		n, err := ReadDatagram(bytes.NewReader(b), out)
		if err == nil && n > len(out) {
			t.Fatal("datagram longer than the buffer")
		}
	})
}

// FuzzHeader decodes arbitrary JSON headers into every header type a peer
// reads and validates requests: nothing may panic, and a request that
// validates must name a known kind with its body.
func FuzzHeader(f *testing.F) {
	seeds := []string{
		`{"kind":"tcp","connect":{"addr":"10.0.0.1:80"}}`,
		`{"kind":"subscribe","subscribe":{"id":1,"port":80,"mode":"steal","filter":{"all_of":[{"header":"^x-user: alice$"},{"path":"^(?!/health)"}]}}}`,
		`{"kind":"open","file":{"op":"open","path":"/x","flags":66,"mode":420}}`,
		`{"kind":"incoming","subscription":1,"mode":"mirror","http":true,"remote":"a","local":"b"}`,
		`{"op":"pread","size":10,"offset":5}`,
		`{"error":{"code":"dns","message":"x","eai":-2}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req Request
		if json.Unmarshal(b, &req) == nil && req.Validate() == nil {
			switch req.Kind {
			case KindEnv, KindDNS, KindTCP, KindUDP, KindUnix, KindFile, KindOpen, KindSubscribe:
			default:
				t.Fatalf("validated unknown kind %q", req.Kind)
			}
		}
		var in Incoming
		_ = json.Unmarshal(b, &in)
		var hr HandleRequest
		_ = json.Unmarshal(b, &hr)
		var resp Response
		_ = json.Unmarshal(b, &resp)
		var h Hello
		_ = json.Unmarshal(b, &h)
		var w Welcome
		_ = json.Unmarshal(b, &w)
	})
}
