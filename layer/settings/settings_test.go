package settings

import (
	"reflect"
	"strings"
	"testing"
)

func TestApplyEnvAndRoundTrip(t *testing.T) {
	s := Default()
	env := map[string]string{
		EnvAgentAddress: "10.0.0.1:1", EnvAgentToken: "tok", "MIRRORD_FILE_MODE": "local",
		"MIRRORD_AGENT_TCP_STEAL_TRAFFIC": "true", "MIRRORD_SKIP_PROCESSES": "a;b", "MIRRORD_REMOTE_DNS": "false",
	}
	if err := s.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if s.Agent.Address != "10.0.0.1:1" || s.Agent.Token != "tok" || s.FS.Mode != FSLocal || s.Incoming.Mode != IncomingSteal ||
		!reflect.DeepEqual(s.SkipProcesses, []string{"a", "b"}) || s.DNS.Enabled {
		t.Fatalf("env not applied: %+v", s)
	}
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
	bad := func(k string) (string, bool) {
		return map[string]string{"MIRRORD_TCP_OUTGOING": "maybe"}[k], k == "MIRRORD_TCP_OUTGOING"
	}
	if err := s.ApplyEnv(bad); err == nil || !strings.Contains(err.Error(), `MIRRORD_TCP_OUTGOING="maybe"`) {
		t.Fatalf("err = %v", err)
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
