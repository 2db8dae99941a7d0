// Package target describes the process whose namespaces the agent serves:
// its network namespace, filesystem root and environment, found from a PID,
// a container id, or explicit paths (tests).
package target

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Target is what the agent works in.
type Target struct {
	// PID of the target process, 0 when targetless or given by paths.
	PID int
	// NetnsPath is the network namespace file; "" means the agent's own.
	NetnsPath string
	// Root is the target's filesystem root ("/" when targetless).
	Root string
	// ID names the target in iptables chain names (short, [A-Za-z0-9]).
	ID string
}

// Targetless is the agent's own namespaces, root and environment.
func Targetless() Target {
	return Target{Root: "/", ID: "tl" + strconv.Itoa(os.Getpid())}
}

// FromPID targets process pid through /proc. root, when not empty,
// overrides /proc/PID/root (tests whose "container" shares the host root).
func FromPID(pid int, root string) (Target, error) {
	if pid <= 0 {
		return Target{}, fmt.Errorf("--pid %d: want a positive process id", pid)
	}
	base := fmt.Sprintf("/proc/%d", pid)
	if _, err := os.Stat(base); err != nil {
		return Target{}, fmt.Errorf("target process %d: %w", pid, err)
	}
	if root == "" {
		root = base + "/root"
	}
	return Target{PID: pid, NetnsPath: base + "/ns/net", Root: root, ID: "p" + strconv.Itoa(pid)}, nil
}

// FromPaths targets an explicit network namespace file and root directory.
func FromPaths(netnsPath, root string) (Target, error) {
	if root == "" {
		root = "/"
	}
	id := "n"
	if netnsPath != "" {
		st, err := os.Stat(netnsPath)
		if err != nil {
			return Target{}, fmt.Errorf("--netns %s: %w", netnsPath, err)
		}
		id += strconv.FormatUint(inode(st), 36)
	}
	return Target{NetnsPath: netnsPath, Root: root, ID: id}, nil
}

// FindContainerPID scans procRoot/*/cgroup (procRoot is normally /proc) for
// a process whose cgroup path mentions containerID and returns the lowest
// such PID (the container's init).
func FindContainerPID(procRoot, containerID string) (int, error) {
	id := containerID
	if _, after, ok := strings.Cut(id, "://"); ok {
		id = after // docker://abc, containerd://abc
	}
	if len(id) < 12 || strings.ContainsAny(id, "/\n") {
		return 0, fmt.Errorf("--container-id %q: want a container id of at least 12 characters", containerID)
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("scan %s: %w", procRoot, err)
	}
	best := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cgroup"))
		if err != nil {
			continue // exited or not ours to read
		}
		if bytes.Contains(data, []byte(id)) && (best == 0 || pid < best) {
			best = pid
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no process in %s/*/cgroup belongs to container %s", procRoot, id)
	}
	return best, nil
}

// ShortID makes s safe and short for chain names: [A-Za-z0-9], at most 16
// characters.
func ShortID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() == 16 {
			break
		}
	}
	return b.String()
}
