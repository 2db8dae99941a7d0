package e2e

// Editor launches of static and Go programs against the real intproxy and
// agent: `mirrord ext` starts the session and prints the launch
// environment, and the test starts programs with it, as an editor does —
// not through mirrord exec's own supervisor path. The C layer hands the
// programs to the intproxy's attach server (layer/preload/supervise.c,
// layer/supervisor/attach.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/agenttest"
	"github.com/mirrord-ls/mirrord-ls/internal/registry"
)

// extLaunch starts a session with `mirrord ext` and returns the
// environment an editor launches the debuggee with (the local
// environment, the session's variables over it, env_to_unset removed).
func (s *session) extLaunch(cfg map[string]any) []string {
	s.t.Helper()
	if cfg == nil {
		cfg = map[string]any{}
	}
	// the session outlives the gaps between the programs the test starts
	cfg["internal_proxy"] = map[string]any{"idle_timeout": 60}
	base := append(os.Environ(),
		"TMPDIR="+s.tmp,
		"MIRRORD_AGENT_ADDRESS="+s.agent.Addr,
		"MIRRORD_AGENT_TOKEN="+s.agent.Token,
		"MIRRORD_SESSIONS_DIR="+s.sessions,
		"MIRRORD_INTPROXY_LOG="+filepath.Join(s.t.TempDir(), "intproxy.log"),
		"no_proxy=*", "NO_PROXY=*",
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.mirrord, "ext", "-f", s.config(cfg), "-t", "pod/"+s.pod.Target)
	cmd.Env = base
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("mirrord ext: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	s.t.Cleanup(s.stopSessions)
	var launch struct {
		Environment map[string]string `json:"environment"`
		EnvToUnset  []string          `json:"env_to_unset"`
	}
	if err := json.Unmarshal(out.Bytes(), &launch); err != nil {
		s.t.Fatalf("mirrord ext printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"LD_PRELOAD", "MIRRORD_LAYER_INTPROXY_ADDR", "MIRRORD_SUPERVISOR_ADDR", "MIRRORD_SUPERVISOR_EXEC"} {
		if launch.Environment[k] == "" {
			s.t.Fatalf("the launch environment has no %s: %v", k, launch.Environment)
		}
	}
	drop := map[string]bool{}
	for _, k := range launch.EnvToUnset {
		drop[k] = true
	}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := launch.Environment[k]; !set && !drop[k] && !strings.HasPrefix(k, "MIRRORD_LAYER") {
			env = append(env, kv)
		}
	}
	for k, v := range launch.Environment {
		env = append(env, k+"="+v)
	}
	return env
}

// stopSessions ends the sessions mirrord ext left running.
func (s *session) stopSessions() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	infos, _ := registry.List(ctx, s.sessions)
	for _, in := range infos {
		_ = registry.Kill(ctx, s.sessions, in.ID)
	}
}

// launchPod is a target with an environment variable, a file, a name only
// its /etc/hosts knows and one only its DNS server knows.
func launchPod(t *testing.T) *session {
	t.Helper()
	if _, err := os.Stat("/app/config.yaml"); err == nil {
		t.Skip("/app/config.yaml exists on this machine")
	}
	files := ordersHosts()
	files["app/config.yaml"] = "db: orders\n"
	return newSession(t, agenttest.PodOptions{Env: map[string]string{"REMOTE_ONLY": "from-the-pod"}, Files: files})
}

// targetArgs are svprobe's questions whose answers only the target has.
var targetArgs = []string{"cat=/app/config.yaml", "lookup=orders.internal", "lookup=" + agenttest.AppDNSName,
	"get=http://orders.internal/go"}

func targetWant() string {
	return strings.Join([]string{
		`cat "db: orders\n"`,
		"lookup orders.internal " + agenttest.PodIP.String(),
		"lookup " + agenttest.AppDNSName + " " + agenttest.PeerIP.String(),
		"get app: GET /go",
	}, "\n") + "\n"
}

// runLaunched runs a program with the launch environment.
func runLaunched(t *testing.T, env []string, args ...string) (string, string) {
	t.Helper()
	out, errOut, code := runIn(t, t.TempDir(), env, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out, errOut
}

// TestEditorLaunchDynamicGoProgram: a dynamically linked Go program (cgo)
// started with only the launch environment attaches itself from the
// layer's constructor and sees the target's environment, file, hosts
// entry, DNS name and network; a shell it starts with os/exec is
// supervised too (the filter is inherited, the C layer in it inert) and
// reads the target's file.
func TestEditorLaunchDynamicGoProgram(t *testing.T) {
	s := launchPod(t)
	bin := buildSvProbe(t, false)
	env := s.extLaunch(nil)
	args := append([]string{bin, "env=REMOTE_ONLY", "env=MIRRORD_LAYER_SUPERVISED"}, targetArgs...)
	args = append(args, "sh=cat /app/config.yaml")
	out, errOut := runLaunched(t, env, args...)
	want := "env REMOTE_ONLY from-the-pod\nenv MIRRORD_LAYER_SUPERVISED 1\n" + targetWant() + `sh "db: orders\n"` + "\n"
	if out != want {
		t.Fatalf("svprobe:\n%s\nwant:\n%s\nstderr: %s", out, want, errOut)
	}
	if strings.Contains(errOut, "mirrord layer:") {
		t.Errorf("the layer warned: %s", errOut)
	}
}

// TestEditorLaunchStaticProgramFromShellAndPython: a static Go program
// started by sh -c or by python's subprocess (the layer's exec hooks
// rewrite the exec to the mirrord binary, which attaches and execs it
// with the original argv) sees the target.
func TestEditorLaunchStaticProgramFromShellAndPython(t *testing.T) {
	s := launchPod(t)
	bin := buildSvProbe(t, true)
	env := s.extLaunch(nil)
	quoted := bin + " 'env=MIRRORD_LAYER_SUPERVISED' '" + strings.Join(targetArgs, "' '") + "'"
	out, errOut := runLaunched(t, env, "sh", "-c", quoted+"; echo sh done")
	if want := "env MIRRORD_LAYER_SUPERVISED 1\n" + targetWant() + "sh done\n"; out != want {
		t.Fatalf("sh -c:\n%s\nwant:\n%s\nstderr: %s", out, want, errOut)
	}
	pyArgs, _ := json.Marshal(append([]string{bin}, targetArgs...))
	out, errOut = runLaunched(t, env, "python3", "-c", fmt.Sprintf(`
import subprocess, sys
r = subprocess.run(%s, capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
sys.exit(r.returncode)
`, pyArgs))
	if out != targetWant() {
		t.Fatalf("python subprocess:\n%s\nwant:\n%s\nstderr: %s", out, targetWant(), errOut)
	}
}

// TestEditorLaunchModePreload: with layer_mode preload nothing is handed
// to the supervisor: a static program started by sh, and a dynamic Go
// program started directly, see the local machine (no target file, no
// target names), as the LD_PRELOAD layer alone gives them.
func TestEditorLaunchModePreload(t *testing.T) {
	s := launchPod(t)
	static, dynamic := buildSvProbe(t, true), buildSvProbe(t, false)
	env := s.extLaunch(map[string]any{"layer_mode": "preload"})
	for _, kv := range env {
		if kv == "MIRRORD_LAYER_MODE=preload" {
			goto found
		}
	}
	t.Fatalf("the launch environment does not say preload")
found:
	probe := []string{"env=MIRRORD_LAYER_SUPERVISED", "cat=/app/config.yaml", "lookup=orders.internal"}
	want := "env MIRRORD_LAYER_SUPERVISED \ncat error open /app/config.yaml: no such file or directory\n"
	for name, argv := range map[string][]string{
		"sh -c static": {"sh", "-c", static + " " + strings.Join(probe, " ")},
		"dynamic Go":   append([]string{dynamic}, probe...),
	} {
		out, errOut := runLaunched(t, env, argv...)
		if !strings.HasPrefix(out, want) || !strings.Contains(out, "lookup orders.internal error") {
			t.Errorf("%s in mode preload:\n%s\nwant the local machine's answers (%q, a failed lookup)\nstderr: %s", name, out, want, errOut)
		}
	}
}
