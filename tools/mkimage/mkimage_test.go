package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mirrord-ls/mirrord-ls/internal/ociimage"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

// Host files the tests use when the host has them (Debian 12 with
// iptables and busybox-static, as scripts/deps.sh installs).
const (
	hostNftMulti = "/usr/sbin/xtables-nft-multi"
	hostBusybox  = "/bin/busybox"
)

func hostLibDirs() []string { return []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"} }

func needFile(t *testing.T, file string) {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		t.Skipf("%s is not on this host (scripts/deps.sh installs it): %v", file, err)
	}
}

func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("%s needs root (chroot); run the tests as root", why)
	}
}

// staticProgram builds pkg with CGO_ENABLED=0 once per test process.
type staticProgram struct {
	once sync.Once
	path string
	err  error
}

// The static programs the tests build; each is built at most once.
type programs struct {
	dir          string
	pause, agent staticProgram
}

func (p *programs) build(t *testing.T, prog *staticProgram, name, pkg string) string {
	t.Helper()
	prog.once.Do(func() {
		prog.path = filepath.Join(p.dir, name)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", prog.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			prog.err = fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
	})
	if prog.err != nil {
		t.Fatal(prog.err)
	}
	return prog.path
}

// testPrograms is created by TestMain and only read afterwards.
var testPrograms *programs

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mkimage-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPrograms = &programs{dir: dir}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func pauseBinary(t *testing.T) string {
	return testPrograms.build(t, &testPrograms.pause, "pause", pausePackage)
}

// agentBinary is the real agent, statically linked: $MIRRORD_AGENT_BIN
// when that is static, else built here.
func agentBinary(t *testing.T) string {
	if p := os.Getenv("MIRRORD_AGENT_BIN"); p != "" && checkStatic(p, "") == nil {
		return p
	}
	return testPrograms.build(t, &testPrograms.agent, "mirrord-agent", "github.com/mirrord-ls/mirrord-ls/cmd/mirrord-agent")
}

func TestCheckStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file func(t *testing.T) string
		want string // "" means static
	}{
		{"static go program", pauseBinary, ""},
		{"dynamic program", func(t *testing.T) string { needFile(t, hostNftMulti); return hostNftMulti }, "is dynamically linked (interpreter \"/lib64/ld-linux-x86-64.so.2\""},
		{"not ELF", func(*testing.T) string { return text }, "reading ELF " + text},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStatic(tc.file(t), "HINT")
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestResolveLibraries(t *testing.T) {
	needFile(t, hostNftMulti)
	libs, err := resolveLibraries([]string{hostNftMulti}, hostLibDirs())
	if err != nil {
		t.Fatal(err)
	}
	if libs.interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("loader %q", libs.interp)
	}
	names := libs.sonames()
	for _, want := range []string{"libc.so.6", "libxtables.so.12", "libnftnl.so.11", "libmnl.so.0"} {
		if !slices.Contains(names, want) {
			t.Errorf("libraries %v lack %s", names, want)
		}
	}
	if slices.Contains(names, "ld-linux-x86-64.so.2") {
		t.Errorf("the loader is listed as a library: %v", names)
	}

	tests := []struct {
		name  string
		files []string
		dirs  []string
		want  string
	}{
		{"library not found", []string{hostNftMulti}, []string{t.TempDir()}, "needed by " + hostNftMulti + ", is not in"},
		{"static program only", []string{pauseBinary(t)}, hostLibDirs(), "has a dynamic loader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveLibraries(tc.files, tc.dirs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestIptablesLinks(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		have    map[string]bool
		want    map[string]string // some links and their targets
		absent  []string
	}{
		{"nft", "nft", map[string]bool{"nft": true, "legacy": true}, map[string]string{
			"/usr/sbin/iptables":          "iptables-nft",
			"/usr/sbin/iptables-save":     "iptables-nft-save",
			"/usr/sbin/ip6tables-restore": "ip6tables-nft-restore",
			"/usr/sbin/iptables-nft":      "xtables-nft-multi",
			"/usr/sbin/iptables-legacy":   "xtables-legacy-multi",
		}, nil},
		{"legacy", "legacy", map[string]bool{"nft": true, "legacy": true}, map[string]string{
			"/usr/sbin/iptables":  "iptables-legacy",
			"/usr/sbin/ip6tables": "ip6tables-legacy",
		}, nil},
		{"nft only", "nft", map[string]bool{"nft": true}, map[string]string{
			"/usr/sbin/iptables": "iptables-nft",
		}, []string{"/usr/sbin/iptables-legacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, e := range iptablesLinks(tc.backend, tc.have) {
				got[e.Path] = e.Target
			}
			for p, target := range tc.want {
				if got[p] != target {
					t.Errorf("%s -> %q, want %q", p, got[p], target)
				}
			}
			for _, p := range tc.absent {
				if _, ok := got[p]; ok {
					t.Errorf("%s should not exist", p)
				}
			}
		})
	}
}

func TestBusyboxApplets(t *testing.T) {
	needFile(t, hostBusybox)
	if err := checkStatic(hostBusybox, ""); err != nil {
		t.Skipf("%s is not busybox-static: %v", hostBusybox, err)
	}
	applets, err := busyboxApplets(context.Background(), hostBusybox)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(applets) || len(slices.Compact(slices.Clone(applets))) != len(applets) {
		t.Errorf("applets not sorted and unique")
	}
	for _, want := range []string{"/bin/sh", "/bin/ls", "/usr/bin/wget"} {
		if !slices.Contains(applets, want) {
			t.Errorf("no %s among %d applets", want, len(applets))
		}
	}
	if slices.Contains(applets, "/bin/busybox") {
		t.Error("busybox links to itself")
	}
	if _, err := busyboxApplets(context.Background(), pauseBinary(t)); err == nil {
		t.Error("a program that is not busybox was accepted")
	}
}

// runMkimage runs the command line and returns its stdout.
func runMkimage(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.ExecuteContext(context.Background())
	t.Logf("mkimage %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	return stdout.String(), err
}

// extract reads the tarball back (as ctr would) and unpacks its layer into
// a new directory, which it returns with the image config.
func extract(t *testing.T, file, ref string) (string, *v1.ConfigFile) {
	t.Helper()
	tag, err := ociimage.ParseTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatalf("reading %s as %s: %v", file, ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	root := t.TempDir()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, dst)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600); err == nil {
				_, err = io.Copy(f, tr)
				err = errors.Join(err, f.Close())
			}
		default:
			err = fmt.Errorf("unexpected type %c", h.Typeflag)
		}
		if err == nil && h.Typeflag != tar.TypeSymlink {
			err = os.Chmod(dst, h.FileInfo().Mode())
		}
		if err != nil {
			t.Fatalf("extracting %s: %v", h.Name, err)
		}
	}
	return root, cf
}

func chroot(ctx context.Context, root string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return cmd.CombinedOutput()
}

// TestAgentImage builds the agent image from the real (static) agent and
// the host's iptables, reads the tarball back, unpacks it and runs, inside
// the image root, iptables --version for both backends and then the very
// rules the agent installs (agent/incoming/iptables.go) in a new network
// namespace: proof that the libraries and extension modules are complete.
func TestAgentImage(t *testing.T) {
	needFile(t, hostNftMulti)
	dir := t.TempDir()
	out, oci := filepath.Join(dir, "agent.tar"), filepath.Join(dir, "agent-oci")
	stdout, err := runMkimage(t, "agent", "--out", out, "--oci", oci, "--binary", agentBinary(t), "--version", "1.2.3+dev")
	if err != nil {
		t.Fatal(err)
	}
	ref := schema.DefaultAgentImage + ":1.2.3-dev"
	if strings.TrimSpace(stdout) != ref {
		t.Errorf("printed %q, want %q", stdout, ref)
	}
	if _, err := os.Stat(filepath.Join(oci, "index.json")); err != nil {
		t.Errorf("no OCI layout: %v", err)
	}
	root, cf := extract(t, out, ref)
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{agentPath}) || !slices.Contains(c.Env, defaultPath) || !slices.Contains(c.Env, "XTABLES_LIBDIR="+imageXtablesDir) {
		t.Errorf("config %+v", c)
	}
	for _, link := range []string{"iptables", "iptables-nft", "iptables-legacy", "ip6tables", "iptables-save", "iptables-restore"} {
		if _, err := os.Stat(filepath.Join(root, "usr/sbin", link)); err != nil {
			t.Errorf("/usr/sbin/%s: %v", link, err)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode().Perm() != 0o777 || st.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp: %v %v", st.Mode(), err)
	}

	needRoot(t, "running iptables inside the image root")
	ctx := context.Background()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/usr/sbin/iptables", "--version"}, "iptables v1.8"},
		{[]string{"iptables", "--version"}, "(nf_tables)"},
		{[]string{"iptables-legacy", "--version"}, "(legacy)"},
		{[]string{"ip6tables", "--version"}, "ip6tables v1.8"},
		{[]string{"mirrord-agent", "--help"}, "--container-id"},
	}
	for _, tc := range tests {
		got, err := chroot(ctx, root, tc.args...)
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("chroot %s: %v: %s (want %q)", strings.Join(tc.args, " "), err, got, tc.want)
		}
	}

	// The agent's own rules, in a namespace of this test.
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip (iproute2) for a test network namespace")
	}
	ns := fmt.Sprintf("mkimage-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	rules := [][]string{
		{"-N", "MRDLS_IN_t"},
		{"-A", "MRDLS_IN_t", "-j", "RETURN"},
		{"-N", "MRDLS_OUT_t"},
		{"-A", "MRDLS_OUT_t", "-m", "owner", "--gid-owner", "4242", "-j", "RETURN"},
		{"-I", "PREROUTING", "1", "-j", "MRDLS_IN_t"},
		{"-I", "OUTPUT", "1", "-j", "MRDLS_OUT_t"},
		{"-I", "MRDLS_IN_t", "1", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "41000"},
		{"-I", "MRDLS_OUT_t", "2", "-o", "lo", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", "41000"},
	}
	for _, r := range rules {
		args := append([]string{"netns", "exec", ns, "chroot", root, "/usr/sbin/iptables", "-w", "5", "-t", "nat"}, r...)
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %s: %v: %s", strings.Join(r, " "), err, out)
		}
	}
	listing, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "chroot", root, "/usr/sbin/iptables", "-w", "5", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S: %v: %s", err, listing)
	}
	for _, want := range []string{"--gid-owner 4242", "--dport 80 -j REDIRECT --to-ports 41000", "-A OUTPUT -j MRDLS_OUT_t"} {
		if !strings.Contains(string(listing), want) {
			t.Errorf("iptables -S lacks %q:\n%s", want, listing)
		}
	}
}

// TestPauseAndBusyboxImages builds the other two images through the
// command line and runs their programs inside the image roots.
func TestPauseAndBusyboxImages(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		ref  string
		need string
		// check inspects the unpacked root and the config.
		check func(t *testing.T, root string, cf *v1.ConfigFile)
	}{
		{
			name: "pause built by mkimage",
			args: []string{"pause", "--out", filepath.Join(dir, "pause.tar"), "--oci", filepath.Join(dir, "pause-oci")},
			ref:  defaultPauseTag,
			check: func(t *testing.T, root string, cf *v1.ConfigFile) {
				if !slices.Equal(cf.Config.Entrypoint, []string{"/pause"}) || cf.Config.User != "65535:65535" {
					t.Errorf("config %+v", cf.Config)
				}
				if err := checkStatic(filepath.Join(root, "pause"), ""); err != nil {
					t.Error(err)
				}
				needRoot(t, "running pause -v inside the image root")
				if out, err := chroot(context.Background(), root, "/pause", "-v"); err != nil || !strings.Contains(string(out), "pause") {
					t.Errorf("pause -v: %v: %s", err, out)
				}
			},
		},
		{
			name: "pause from --binary",
			args: []string{"pause", "--out", filepath.Join(dir, "pause2.tar"), "--binary", pauseBinary(t), "--tag", "mirrord.local/pause:test"},
			ref:  "mirrord.local/pause:test",
			check: func(t *testing.T, root string, _ *v1.ConfigFile) {
				if _, err := os.Stat(filepath.Join(root, "pause")); err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "busybox",
			args: []string{"busybox", "--out", filepath.Join(dir, "busybox.tar")},
			ref:  defaultBusyboxTag,
			need: hostBusybox,
			check: func(t *testing.T, root string, cf *v1.ConfigFile) {
				if !slices.Equal(cf.Config.Cmd, []string{"sh"}) {
					t.Errorf("config %+v", cf.Config)
				}
				needRoot(t, "running busybox inside the image root")
				out, err := chroot(context.Background(), root, "sh", "-c", "id -un; ls -ld /tmp; head -1 /etc/group")
				if err != nil || !strings.Contains(string(out), "root\ndrwxrwxrwt") || !strings.Contains(string(out), "root:x:0:") {
					t.Errorf("sh: %v: %s", err, out)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.need != "" {
				needFile(t, tc.need)
			}
			stdout, err := runMkimage(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(stdout) != tc.ref {
				t.Errorf("printed %q, want %q", stdout, tc.ref)
			}
			root, cf := extract(t, tc.args[2], tc.ref)
			tc.check(t, root, cf)
		})
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	dynamic := hostNftMulti
	tests := []struct {
		name string
		args []string
		need string
		want string
	}{
		{"agent without binary", []string{"agent", "--out", filepath.Join(dir, "a.tar")}, "", "--binary is required"},
		{"agent dynamic binary", []string{"agent", "--out", filepath.Join(dir, "a.tar"), "--binary", dynamic}, dynamic, "agent binary: " + dynamic + " is dynamically linked"},
		{"agent bad backend", []string{"agent", "--out", filepath.Join(dir, "a.tar"), "--binary", pauseBinary(t), "--iptables-backend", "ebpf"}, "", `iptables backend "ebpf"`},
		{"agent no modules", []string{"agent", "--out", filepath.Join(dir, "a.tar"), "--binary", pauseBinary(t), "--xtables-dir", dir}, hostNftMulti, "no iptables extension modules"},
		{"busybox dynamic", []string{"busybox", "--out", filepath.Join(dir, "b.tar"), "--binary", dynamic}, dynamic, "install Debian's busybox-static"},
		{"busybox missing", []string{"busybox", "--out", filepath.Join(dir, "b.tar"), "--binary", filepath.Join(dir, "nope")}, "", "no such file or directory (install Debian's busybox-static"},
		{"bad tag", []string{"pause", "--out", filepath.Join(dir, "p.tar"), "--binary", pauseBinary(t), "--tag", "Bad/Ref:1"}, "", `image reference "Bad/Ref:1"`},
		{"no out", []string{"pause", "--binary", pauseBinary(t)}, "", `"out" not set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.need != "" {
				needFile(t, tc.need)
			}
			_, err := runMkimage(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*")); len(leftovers) != 0 {
		t.Errorf("failed runs left files: %v", leftovers)
	}
}
