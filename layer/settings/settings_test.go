package settings

import (
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	s := Default()
	s.Agent = Agent{Address: "10.0.0.1:1", Token: "tok"}
	s.FS.Mode = FSLocal
	s.Incoming.Mode = IncomingSteal
	s.SkipProcesses = []string{"a", "b"}
	s.DNS.Enabled = false
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip: got %+v, want %+v", back, s)
	}
	if _, err := Decode(`{"fs": {"mode": "sideways"}}`); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("bad mode: err = %v", err)
	}
}

func TestSkipProcess(t *testing.T) {
	s := Default()
	s.SkipProcesses = []string{"bash"}
	if !s.SkipProcess("bash") || !s.SkipProcess("", "go") || s.SkipProcess("python3") {
		t.Fatal("skip list wrong")
	}
	s.SkipBuildTools = false
	if s.SkipProcess("go") {
		t.Fatal("build tools skipped with skip_build_tools=false")
	}
}
