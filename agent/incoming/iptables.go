package incoming

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mirrord-ls/mirrord-ls/agent/netns"
)

// ChainPrefix starts the name of every chain an agent creates.
const ChainPrefix = "MRDLS_"

// IPTables manages the agent's nat chains in one network namespace by
// running the installed iptables binary inside it.
type IPTables struct {
	ns       netns.Namespace
	in, out  string // chain names
	ownerGID int
	bin      string
	owner    string // comment recording the owner (SetOwner), or ""
}

// NewIPTables names the chains after id (see target.ShortID). ownerGID is
// the agent's group: its own connections are never redirected.
func NewIPTables(ns netns.Namespace, id string, ownerGID int) *IPTables {
	return &IPTables{ns: ns, in: ChainPrefix + "IN_" + id, out: ChainPrefix + "OUT_" + id, ownerGID: ownerGID, bin: "iptables"}
}

// SetOwner records o in a comment on the chains Create makes, so that a
// later agent can remove them once o is provably gone (see Owners).
func (t *IPTables) SetOwner(o Owner) { t.owner = o.Comment() }

func (t *IPTables) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := t.ns.Run(func() error {
		cmd := exec.CommandContext(ctx, t.bin, append([]string{"-w", "5", "-t", "nat"}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		return cmd.Run()
	})
	if err != nil {
		return "", fmt.Errorf("iptables -t nat %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// List returns the names of chains starting with ChainPrefix that exist in
// the namespace's nat table.
func (t *IPTables) List(ctx context.Context) ([]string, error) {
	out, err := t.run(ctx, "-S")
	if err != nil {
		return nil, err
	}
	var chains []string
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "-N "); ok && strings.HasPrefix(name, ChainPrefix) {
			chains = append(chains, strings.TrimSpace(name))
		}
	}
	return chains, nil
}

// Create creates both chains and hooks them into PREROUTING and OUTPUT.
func (t *IPTables) Create(ctx context.Context) error {
	var comment []string
	if t.owner != "" {
		comment = []string{"-m", "comment", "--comment", t.owner}
	}
	steps := [][]string{
		{"-N", t.in},
		append(append([]string{"-A", t.in}, comment...), "-j", "RETURN"),
		{"-N", t.out},
		{"-A", t.out, "-m", "owner", "--gid-owner", strconv.Itoa(t.ownerGID), "-j", "RETURN"},
		append(append([]string{"-A", t.out}, comment...), "-j", "RETURN"),
		{"-I", "PREROUTING", "1", "-j", t.in},
		{"-I", "OUTPUT", "1", "-j", t.out},
	}
	for _, s := range steps {
		if _, err := t.run(ctx, s...); err != nil {
			_ = t.Remove(context.WithoutCancel(ctx))
			return err
		}
	}
	return nil
}

func (t *IPTables) redirectSpec(port, to uint16) (in, out []string) {
	p, l := strconv.Itoa(int(port)), strconv.Itoa(int(to))
	in = []string{"-p", "tcp", "-m", "tcp", "--dport", p, "-j", "REDIRECT", "--to-ports", l}
	out = append([]string{"-o", "lo"}, in...)
	return in, out
}

// AddRedirect redirects TCP port to the agent's listener port to.
func (t *IPTables) AddRedirect(ctx context.Context, port, to uint16) error {
	in, out := t.redirectSpec(port, to)
	if _, err := t.run(ctx, append([]string{"-I", t.in, "1"}, in...)...); err != nil {
		return err
	}
	// After the owner exclusion (rule 1), before the final RETURN.
	if _, err := t.run(ctx, append([]string{"-I", t.out, "2"}, out...)...); err != nil {
		_, _ = t.run(ctx, append([]string{"-D", t.in}, in...)...)
		return err
	}
	return nil
}

// RemoveRedirect undoes AddRedirect.
func (t *IPTables) RemoveRedirect(ctx context.Context, port, to uint16) error {
	in, out := t.redirectSpec(port, to)
	_, err1 := t.run(ctx, append([]string{"-D", t.in}, in...)...)
	_, err2 := t.run(ctx, append([]string{"-D", t.out}, out...)...)
	if err1 != nil {
		return err1
	}
	return err2
}

// Remove unhooks, flushes and deletes both chains; missing chains are not
// an error.
func (t *IPTables) Remove(ctx context.Context) error {
	return t.RemoveChains(ctx, []string{t.in, t.out})
}

// Owners returns the recorded owner of every chain with ChainPrefix that
// has one (SetOwner).
func (t *IPTables) Owners(ctx context.Context) (map[string]Owner, error) {
	out, err := t.run(ctx, "-S")
	if err != nil {
		return nil, err
	}
	owners := map[string]Owner{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || !strings.HasPrefix(f[1], ChainPrefix) {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i] != "--comment" {
				continue
			}
			if o, ok := ParseOwner(strings.Trim(f[i+1], `"`)); ok {
				owners[f[1]] = o
			}
		}
	}
	return owners, nil
}

// RemoveAll removes every chain with ChainPrefix (a previous agent's).
func (t *IPTables) RemoveAll(ctx context.Context) error {
	chains, err := t.List(ctx)
	if err != nil {
		return err
	}
	return t.RemoveChains(ctx, chains)
}

// RemoveChains removes the named chains like Remove.
func (t *IPTables) RemoveChains(ctx context.Context, chains []string) error {
	rules, err := t.run(ctx, "-S")
	if err != nil {
		return err
	}
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, c := range chains {
		// Delete every jump to the chain from the built-in chains.
		for _, line := range strings.Split(rules, "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[0] == "-A" && (f[1] == "PREROUTING" || f[1] == "OUTPUT") && f[len(f)-2] == "-j" && f[len(f)-1] == c {
				_, err := t.run(ctx, append([]string{"-D"}, f[1:]...)...)
				keep(err)
			}
		}
		if !strings.Contains(rules, "-N "+c+"\n") {
			continue
		}
		_, err := t.run(ctx, "-F", c)
		keep(err)
		_, err = t.run(ctx, "-X", c)
		keep(err)
	}
	return firstErr
}
