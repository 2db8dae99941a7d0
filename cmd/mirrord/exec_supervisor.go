package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/layer/supervisor"
	"github.com/mirrord-ls/mirrord-ls/session"
)

// layerMode is the session's resolved layer_mode (the config engine
// applied MIRRORD_LAYER_MODE over the file).
func layerMode(launch *session.Launch) (supervisor.Mode, error) {
	var cfg struct {
		LayerMode string `json:"layer_mode"`
	}
	if raw := launch.Environment[session.EnvResolvedConfig]; raw != "" {
		if b, err := base64.StdEncoding.DecodeString(raw); err == nil {
			_ = json.Unmarshal(b, &cfg)
		}
	}
	return supervisor.ParseMode(cfg.LayerMode)
}

// chooseSupervisor decides whether bin runs under the seccomp supervisor
// and returns the progress line that says so ("" for the C layer
// without a remark).
func chooseSupervisor(mode supervisor.Mode, bin string) (bool, string) {
	switch mode {
	case supervisor.ModeSupervisor:
		if !supervisor.Supported {
			return false, "warning: layer_mode supervisor is not supported on this platform; using the C layer"
		}
		return true, "running " + bin + " under the seccomp supervisor (layer_mode: supervisor)"
	case supervisor.ModePreload:
		if use, why := supervisor.Choose(bin); use {
			return false, "warning: " + supervisor.Unreached(mode, why)
		}
		return false, ""
	}
	use, why := supervisor.Choose(bin)
	if !use {
		return false, ""
	}
	if w := supervisor.Unreached(mode, why); w != "" {
		return false, "warning: " + w
	}
	return true, "running " + bin + " under the seccomp supervisor: " + why
}

// withoutLayer drops libmirrord_layer.so from LD_PRELOAD (the supervisor
// decides instead; both would intercept the same connect twice).
func withoutLayer(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		v, ok := strings.CutPrefix(kv, session.EnvPreload+"=")
		if !ok {
			out = append(out, kv)
			continue
		}
		var keep []string
		for _, p := range strings.Split(v, ":") {
			if p != "" && filepath.Base(p) != session.LayerName {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out = append(out, session.EnvPreload+"="+strings.Join(keep, ":"))
		}
	}
	return out
}

// supervised starts child under the supervisor; stop ends supervising
// after the child exited.
func startSupervised(child *exec.Cmd, launch *session.Launch, stderr io.Writer) (stop func(), err error) {
	// the marker keeps a C layer that something re-adds inert
	child.Env = append(withoutLayer(child.Env), supervisor.EnvSupervised+"=1")
	pend, err := supervisor.Prepare(child)
	if err != nil {
		return nil, err
	}
	if err := child.Start(); err != nil {
		pend.Close()
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sv, err := pend.Start(supervisor.Config{Intproxy: launch.Environment[session.EnvLayerAddr], Log: log.With("component", "mirrord supervisor")})
	if err != nil {
		_ = child.Process.Kill()
		_ = child.Wait()
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	return func() {
		if err := sv.Close(); err != nil {
			fmt.Fprintf(stderr, "* warning: %v\n", err)
		} else if sv.Orphaned() {
			fmt.Fprintln(stderr, "* warning: processes the command left running continue without mirrord (their calls run natively)")
		}
	}, nil
}
