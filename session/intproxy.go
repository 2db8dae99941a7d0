package session

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
	"github.com/mirrord-ls/mirrord-ls/session/handoff"
)

// The contract of `mirrord intproxy` (cmd/mirrord/intproxy.go): settings in
// MIRRORD_INTPROXY_SETTINGS, the layer socket in --listen, the session id
// in MIRRORD_SESSION_ID (it registers itself in the session directory),
// one stdout line "ready" or "error: ..." once it serves.
const (
	envSessionID   = "MIRRORD_SESSION_ID"
	envIntproxyLog = "MIRRORD_INTPROXY_LOG"
	envConfigFile  = "MIRRORD_CONFIG_FILE"
	intproxyReady  = "ready"
	intproxyError  = "error: "
	// intproxyStartTimeout bounds the intproxy's own agent connection.
	intproxyStartTimeout = 45 * time.Second
)

// intproxyProc is a started intproxy.
type intproxyProc struct {
	pid      int
	socket   string
	attach   string // where static and Go programs attach to the supervisor ("" unsupported)
	bin      string // the mirrord binary: the exec wrapper
	log      string
	dir      string
	sessions string // the session registry it registers in
	proc     *os.Process
	// done is closed once the process was reaped (after it served).
	done chan struct{}
}

// stop ends an intproxy Start will not hand out (a failed or cancelled start).
func (p *intproxyProc) stop() {
	_ = p.proc.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_, _ = p.proc.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = p.proc.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}

// startIntproxy starts `mirrord intproxy` in its own session (setsid, stdio
// not tied to the caller after its ready line), so it outlives `mirrord
// ext` and mirrord-ls, and waits until it serves layers.
func (st *starter) startIntproxy(ctx context.Context, id string, s settings.Settings, ho *handoff.Handoff) (*intproxyProc, error) {
	bin, err := st.mirrordBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mirrord-session-") // the intproxy removes it at exit
	if err != nil {
		return nil, fmt.Errorf("session directory: %w", err)
	}
	sock := filepath.Join(dir, "layer.sock")
	logPath, ok := st.req.lookup(envIntproxyLog)
	if !ok || logPath == "" {
		logPath = filepath.Join(os.TempDir(), "mirrord-intproxy-"+id+".log")
	}
	enc, err := s.Encode()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	hoEnc, err := ho.Encode()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	sessions, err := st.req.sessionsDir()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range st.req.Env {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	delete(env, EnvPreload)
	env[settings.EnvVar] = enc
	env[handoff.EnvVar] = hoEnc
	env[envSessionID] = id
	env[envIntproxyLog] = logPath
	env[registry.EnvDir] = sessions
	if ho.ConfigPath != "" {
		env[envConfigFile] = ho.ConfigPath
	}
	args := []string{"intproxy", "--listen", sock}
	attach := ""
	if supervisor.Supported {
		attach = filepath.Join(dir, "supervisor.sock")
		args = append(args, "--supervisor-listen", attach)
	}
	cmd := exec.Command(bin, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("intproxy pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s intproxy: %w", bin, err)
	}
	p := &intproxyProc{pid: cmd.Process.Pid, socket: sock, attach: attach, bin: bin, log: logPath, dir: dir, sessions: sessions, proc: cmd.Process, done: make(chan struct{})}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	timer := time.NewTimer(intproxyStartTimeout)
	defer timer.Stop()
	select {
	case l := <-line:
		if l != intproxyReady {
			p.stop()
			msg := strings.TrimPrefix(l, intproxyError)
			if msg == "" {
				msg = "it exited without a word"
			}
			return nil, fmt.Errorf("the intproxy failed: %s (log: %s)", msg, logPath)
		}
	case <-timer.C:
		p.stop()
		return nil, fmt.Errorf("the intproxy did not start within %s (log: %s)", intproxyStartTimeout, logPath)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	// Reap it when it ends while this process lives (mirrord-ls, `mirrord
	// exec`); after `mirrord ext` exits, init does.
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// binaryWarning explains what mirrord cannot do for the executable that
// will run (`-e` of ext); "" when it can do all. Static and Go programs
// run under the seccomp supervisor (the layer hands them over), unless
// layer_mode is preload or the platform has no supervisor.
func binaryWarning(exe, mode string) string {
	if exe == "" {
		return ""
	}
	path, err := exec.LookPath(exe)
	if err != nil {
		return ""
	}
	use, why := supervisor.Choose(path)
	if !use {
		return "" // dynamically linked, or a script: the layer loads
	}
	m, err := supervisor.ParseMode(mode)
	if err != nil {
		m = supervisor.ModeAuto // the config check reports a bad mode
	}
	return supervisor.Unreached(m, why)
}
