package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/internal/ociimage"
)

// image is what a subcommand builds: the layer's entries and the config.
type image struct {
	entries []ociimage.Entry
	config  ociimage.Config
}

// defaultPath is the PATH of every image.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Minimal account files: root and nobody.
const (
	passwdFile = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	groupFile  = "root:x:0:\nnobody:x:65534:\n"
)

// baseEntries are the accounts and the scratch directories every image
// with a shell or tools has.
func baseEntries() []ociimage.Entry {
	return []ociimage.Entry{
		ociimage.File("/etc/passwd", []byte(passwdFile), 0o644),
		ociimage.File("/etc/group", []byte(groupFile), 0o644),
		ociimage.Dir("/tmp", 0o1777),
		ociimage.Dir("/root", 0o700),
		ociimage.Dir("/run", 0o755),
	}
}

// staticHint says how to get a static program.
const staticHint = "build it with CGO_ENABLED=0"

// pauseImage is the sandbox image: the static pause program at /pause,
// run as 65535:65535 like the upstream pause image.
func pauseImage(binary string) (image, error) {
	if err := checkStatic(binary, staticHint); err != nil {
		return image{}, fmt.Errorf("pause binary: %w", err)
	}
	return image{
		entries: []ociimage.Entry{ociimage.HostFile("/pause", binary, 0o755)},
		config: ociimage.Config{
			Entrypoint: []string{"/pause"},
			Env:        []string{defaultPath},
			User:       "65535:65535",
			Labels:     map[string]string{"org.opencontainers.image.title": "pause"},
		},
	}, nil
}

// pausePackage is the import path of the pause program.
const pausePackage = "github.com/mirrord-ls/mirrord-ls/tools/pause"

// buildPause builds the pause program into out, statically linked and
// stripped, from the module that contains dir.
func buildPause(ctx context.Context, goTool, dir, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pausePackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s in %s (run mkimage inside the repository, or pass --binary): %w: %s",
			pausePackage, dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// busyboxImage is a busybox workload image: the static busybox at
// /bin/busybox, a symlink to it for every applet it lists, the account
// files and /tmp. Its command is sh.
func busyboxImage(ctx context.Context, binary string) (image, error) {
	const hint = "install Debian's busybox-static package (not busybox)"
	if _, err := os.Stat(binary); err != nil {
		return image{}, fmt.Errorf("busybox: %w (%s)", err, hint)
	}
	if err := checkStatic(binary, hint); err != nil {
		return image{}, fmt.Errorf("busybox: %w", err)
	}
	applets, err := busyboxApplets(ctx, binary)
	if err != nil {
		return image{}, err
	}
	entries := append(baseEntries(), ociimage.HostFile("/bin/busybox", binary, 0o755))
	for _, a := range applets {
		entries = append(entries, ociimage.Symlink(a, "/bin/busybox"))
	}
	return image{
		entries: entries,
		config: ociimage.Config{
			Cmd:    []string{"sh"},
			Env:    []string{defaultPath},
			Labels: map[string]string{"org.opencontainers.image.title": "busybox"},
		},
	}, nil
}

// busyboxApplets returns the install path of every applet of the busybox
// binary ("/usr/bin/awk"), from `busybox --list-full`, without busybox
// itself and without duplicates, sorted.
func busyboxApplets(ctx context.Context, binary string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "--list-full")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s --list-full: %w: %s", binary, err, strings.TrimSpace(stderr.String()))
	}
	var applets []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		p := path.Clean("/" + line)
		if p == "/bin/busybox" || strings.Contains(line, "..") {
			continue
		}
		applets = append(applets, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s --list-full: %w", binary, err)
	}
	slices.Sort(applets)
	applets = slices.Compact(applets)
	if !slices.Contains(applets, "/bin/sh") {
		return nil, fmt.Errorf("%s --list-full lists no /bin/sh (%d applets); is it busybox?", binary, len(applets))
	}
	return applets, nil
}

// agentOptions say where the agent image's parts come from.
type agentOptions struct {
	binary  string // the static mirrord-agent
	version string // for the image's version label
	// backend is the iptables variant that "iptables" runs: nft or legacy.
	backend string
	// sbinDir holds xtables-nft-multi and xtables-legacy-multi.
	sbinDir string
	// xtablesDir holds the iptables extension modules (libxt_*.so, ...).
	xtablesDir string
	// libDirs are searched, in order, for shared libraries.
	libDirs []string
}

// Where the agent image keeps things. libDir and xtablesDir are on the
// loader's default search path and iptables' built-in XTABLES_LIBDIR on
// Debian, so nothing else (ld.so.cache, ldconfig) is needed.
const (
	agentPath       = "/usr/local/bin/mirrord-agent"
	imageSbin       = "/usr/sbin"
	imageLibDir     = "/usr/lib/x86_64-linux-gnu"
	imageXtablesDir = "/usr/lib/x86_64-linux-gnu/xtables"
)

// multiBinary returns the multi-call binary of an iptables backend.
func multiBinary(backend string) (string, bool) {
	switch backend {
	case "nft":
		return "xtables-nft-multi", true
	case "legacy":
		return "xtables-legacy-multi", true
	}
	return "", false
}

// iptablesLinks returns the symlinks to the multi-call binaries in
// /usr/sbin: iptables, ip6tables and their -save and -restore, each as
// -nft and -legacy, and the plain names pointing at backend's (as
// Debian's alternatives do). Only backends in have get links.
func iptablesLinks(backend string, have map[string]bool) []ociimage.Entry {
	var links []ociimage.Entry
	for _, family := range []string{"iptables", "ip6tables"} {
		for _, suffix := range []string{"", "-save", "-restore"} {
			for _, b := range []string{"legacy", "nft"} {
				if have[b] {
					multi, _ := multiBinary(b)
					links = append(links, ociimage.Symlink(path.Join(imageSbin, family+"-"+b+suffix), multi))
				}
			}
			links = append(links, ociimage.Symlink(path.Join(imageSbin, family+suffix), family+"-"+backend+suffix))
		}
	}
	return links
}

// agentImage is the agent image: the static agent, the iptables it runs
// in the target's network namespace (the real multi-call binaries, every
// library they and the extension modules need, the dynamic loader, the
// extension modules), the account files and /tmp and /run (iptables'
// lock file).
func agentImage(o agentOptions) (image, error) {
	if err := checkStatic(o.binary, staticHint+" (e.g. `make agent-image`)"); err != nil {
		return image{}, fmt.Errorf("agent binary: %w", err)
	}
	if _, ok := multiBinary(o.backend); !ok {
		return image{}, fmt.Errorf("iptables backend %q: want nft or legacy", o.backend)
	}
	entries := append(baseEntries(), ociimage.HostFile(agentPath, o.binary, 0o755))

	// The multi-call binaries: the chosen backend's must exist, the other
	// comes along when the host has it.
	have := map[string]bool{}
	var programs []string
	for _, b := range []string{"legacy", "nft"} {
		multi, _ := multiBinary(b)
		host := filepath.Join(o.sbinDir, multi)
		if _, err := os.Stat(host); err != nil {
			if b == o.backend {
				return image{}, fmt.Errorf("iptables (%s): %w (install Debian's iptables package)", b, err)
			}
			continue
		}
		have[b] = true
		programs = append(programs, host)
		entries = append(entries, ociimage.HostFile(path.Join(imageSbin, multi), host, 0o755))
	}
	entries = append(entries, iptablesLinks(o.backend, have)...)

	modules, moduleEntries, err := xtablesModules(o.xtablesDir)
	if err != nil {
		return image{}, err
	}
	entries = append(entries, moduleEntries...)

	libs, err := resolveLibraries(append(programs, modules...), o.libDirs)
	if err != nil {
		return image{}, fmt.Errorf("iptables libraries: %w", err)
	}
	entries = append(entries, ociimage.HostFile(libs.interp, libs.interp, 0o755))
	for _, soname := range libs.sonames() {
		entries = append(entries, ociimage.HostFile(path.Join(imageLibDir, soname), libs.bySoname[soname], 0))
	}
	return image{
		entries: entries,
		config: ociimage.Config{
			Entrypoint: []string{agentPath},
			Env:        []string{defaultPath, "XTABLES_LIBDIR=" + imageXtablesDir},
			Labels: map[string]string{
				"org.opencontainers.image.title":   "mirrord-agent",
				"org.opencontainers.image.version": o.version,
			},
		},
	}, nil
}

// xtablesModules returns the extension modules of dir as image entries
// under imageXtablesDir, and the host files among them (for their
// libraries). A symlink to another module in dir stays a symlink (as
// Debian ships libxt_REDIRECT.so → libxt_NAT.so); any other symlink is
// copied as the file it points to.
func xtablesModules(dir string) (files []string, entries []ociimage.Entry, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("iptables extension modules: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, ".so") {
			continue
		}
		host := filepath.Join(dir, name)
		dst := path.Join(imageXtablesDir, name)
		if de.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return nil, nil, fmt.Errorf("iptables extension module: %w", err)
			}
			if !strings.Contains(target, "/") && strings.HasSuffix(target, ".so") {
				if st, err := os.Lstat(filepath.Join(dir, target)); err == nil && st.Mode().IsRegular() {
					entries = append(entries, ociimage.Symlink(dst, target))
					continue
				}
			}
		} else if !de.Type().IsRegular() {
			continue
		}
		files = append(files, host)
		entries = append(entries, ociimage.HostFile(dst, host, 0))
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no iptables extension modules (*.so) in %s", dir)
	}
	return files, entries, nil
}
