package incoming

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Owner identifies the processes that created a set of chains (the agent's
// worker and its guard), so that a later agent can prove them gone and
// remove chains that a SIGKILL of the whole agent left behind. It is written
// into a comment of the chains' rules.
type Owner struct {
	// PIDNS is the inode of the owners' pid namespace; pids mean nothing
	// in another one.
	PIDNS uint64
	// BootID is the kernel's boot id when the chains were made.
	BootID string
	// Procs are the owning processes.
	Procs []Proc
}

// Proc is one process: its pid and its start time (field 22 of
// /proc/PID/stat, clock ticks after boot), which tells it from a later
// process that reuses the pid.
type Proc struct {
	PID   int
	Start uint64
}

// ownerTag starts an owner comment.
const ownerTag = "mirrord-ls-owner:v1:"

// procRoot is where processes are looked up (a variable for tests).
var procRoot = "/proc"

// SelfOwner describes this process and, when withParent, its parent (the
// guard of a worker).
func SelfOwner(withParent bool) (Owner, error) {
	o, err := currentSystem()
	if err != nil {
		return Owner{}, err
	}
	pids := []int{os.Getpid()}
	if withParent {
		pids = append(pids, os.Getppid())
	}
	for _, pid := range pids {
		start, _, err := procStart(pid)
		if err != nil {
			return Owner{}, fmt.Errorf("record the owner of the iptables chains: %w", err)
		}
		o.Procs = append(o.Procs, Proc{PID: pid, Start: start})
	}
	return o, nil
}

// currentSystem is an Owner without processes: this pid namespace and boot.
func currentSystem() (Owner, error) {
	var st unix.Stat_t
	if err := unix.Stat(procRoot+"/self/ns/pid", &st); err != nil {
		return Owner{}, fmt.Errorf("record the owner of the iptables chains: pid namespace: %w", err)
	}
	boot, err := os.ReadFile(procRoot + "/sys/kernel/random/boot_id")
	if err != nil {
		return Owner{}, fmt.Errorf("record the owner of the iptables chains: %w", err)
	}
	return Owner{PIDNS: st.Ino, BootID: strings.TrimSpace(string(boot))}, nil
}

// procStart reads the start time and state of process pid.
func procStart(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold anything;
	// the fields after the last ')' start with field 3 (the state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s/%d/stat: no command name", procRoot, pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("%s/%d/stat: %d fields after the name, want 20", procRoot, pid, len(f))
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%s/%d/stat: start time: %w", procRoot, pid, err)
	}
	return start, f[0][0], nil
}

// Comment is the owner as an iptables comment (no spaces, under 256 bytes).
func (o Owner) Comment() string {
	procs := make([]string, len(o.Procs))
	for i, p := range o.Procs {
		procs[i] = fmt.Sprintf("%d@%d", p.PID, p.Start)
	}
	return fmt.Sprintf("%spidns=%d:boot=%s:procs=%s", ownerTag, o.PIDNS, o.BootID, strings.Join(procs, ","))
}

// ParseOwner reads a Comment; ok is false for anything else.
func ParseOwner(s string) (o Owner, ok bool) {
	rest, ok := strings.CutPrefix(s, ownerTag)
	if !ok {
		return Owner{}, false
	}
	seen := 0
	for _, field := range strings.Split(rest, ":") {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "pidns":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Owner{}, false
			}
			o.PIDNS = n
			seen |= 1
		case "boot":
			o.BootID = v
			seen |= 2
		case "procs":
			for _, p := range strings.Split(v, ",") {
				pid, start, found := strings.Cut(p, "@")
				n, err1 := strconv.Atoi(pid)
				t, err2 := strconv.ParseUint(start, 10, 64)
				if !found || err1 != nil || err2 != nil || n <= 0 {
					return Owner{}, false
				}
				o.Procs = append(o.Procs, Proc{PID: n, Start: t})
			}
			seen |= 4
		}
	}
	if seen != 7 || len(o.Procs) == 0 || o.BootID == "" {
		return Owner{}, false
	}
	return o, true
}

// Gone reports whether every owning process provably no longer runs, and
// why (or why it cannot be proved). Owners in another pid namespace are
// never proved gone: their pids cannot be looked up from here.
func (o Owner) Gone() (bool, string) {
	cur, err := currentSystem()
	if err != nil {
		return false, err.Error()
	}
	if o.BootID != cur.BootID {
		return true, "made before the last boot"
	}
	if o.PIDNS != cur.PIDNS {
		return false, fmt.Sprintf("owner in another pid namespace (%d), cannot tell whether it runs", o.PIDNS)
	}
	for _, p := range o.Procs {
		start, state, err := procStart(p.PID)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return false, fmt.Sprintf("owner process %d: %v", p.PID, err)
		}
		// A zombie has ended; only its parent has not collected it yet.
		if start == p.Start && state != 'Z' && state != 'X' {
			return false, fmt.Sprintf("owner process %d still runs", p.PID)
		}
	}
	return true, fmt.Sprintf("owner processes %s no longer run", o.procList())
}

func (o Owner) procList() string {
	s := make([]string, len(o.Procs))
	for i, p := range o.Procs {
		s[i] = strconv.Itoa(p.PID)
	}
	return strings.Join(s, ", ")
}
