package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as pause: with envRunPause set it runs main
// (after starting a short-lived child when envSpawnChild is set, so that
// pause has a zombie to reap).
const (
	envRunPause   = "MIRRORD_PAUSE_TEST_RUN"
	envSpawnChild = "MIRRORD_PAUSE_TEST_CHILD"
	envExitAtOnce = "MIRRORD_PAUSE_TEST_EXIT"
)

func TestMain(m *testing.M) {
	if os.Getenv(envExitAtOnce) == "1" {
		os.Exit(0)
	}
	if os.Getenv(envRunPause) == "1" {
		if os.Getenv(envSpawnChild) == "1" {
			child := exec.Command(os.Args[0])
			child.Env = append(os.Environ(), envExitAtOnce+"=1")
			if err := child.Start(); err != nil {
				os.Exit(3)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func pauseCmd(ctx context.Context, spawn bool, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), envRunPause+"=1")
	if spawn {
		cmd.Env = append(cmd.Env, envSpawnChild+"=1")
	}
	return cmd
}

func TestPause(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		signal   syscall.Signal // 0: none, the process exits by itself
		wantCode int
		wantOut  string
	}{
		{name: "SIGTERM", signal: syscall.SIGTERM, wantCode: 0, wantOut: "shutting down on terminated"},
		{name: "SIGINT", signal: syscall.SIGINT, wantCode: 0, wantOut: "shutting down on interrupt"},
		{name: "version", args: []string{"-v"}, wantCode: 0, wantOut: version},
		{name: "unknown argument", args: []string{"--nope"}, wantCode: 2, wantOut: "usage: pause"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := pauseCmd(ctx, false, tc.args...)
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.signal != 0 {
				// A signal sent before signal.Notify would kill it: wait
				// for the "not PID 1" warning, printed just after.
				waitFor(t, func() bool { return strings.Contains(out.String(), "not PID 1") })
				if err := cmd.Process.Signal(tc.signal); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tc.wantCode, tc.wantOut)
			}
		})
	}
}

// TestReapsChildren: a child that exits does not stay a zombie. The child
// is started before pause's main runs; unreaped, it would stay a zombie
// with pause as its parent for as long as pause lives.
func TestReapsChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := pauseCmd(ctx, true)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	waitFor(t, func() bool { return strings.Contains(out.String(), "not PID 1") })
	pid := strconv.Itoa(cmd.Process.Pid)
	waitFor(t, func() bool { return len(childrenOf(pid)) == 0 })
}

// childrenOf returns the processes (zombies too) whose parent is pid.
func childrenOf(pid string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []string
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == pid {
			kids = append(kids, e.Name())
		}
	}
	return kids
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
