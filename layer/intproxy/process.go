package intproxy

import (
	"path/filepath"
	"slices"

	"github.com/mirrord-ls/mirrord-ls/internal/registry"
	"github.com/mirrord-ls/mirrord-ls/layer/fspolicy"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

// process is one local process of the session (all its control
// connections share it).
type process struct {
	pid, ppid uint32
	name      string
	cmdline   []string
	paths     fspolicy.Process
	skip      bool
	conns     int
}

// join records a HELLO; the first connection of a pid registers the process.
func (p *Proxy) join(h wire.Hello) *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.procs[h.PID]
	if pr == nil || pr.ppid != h.PPID || pr.name != h.Name {
		argv0 := ""
		if len(h.Cmdline) > 0 {
			argv0 = filepath.Base(h.Cmdline[0])
		}
		pr = &process{
			pid: h.PID, ppid: h.PPID, name: h.Name, cmdline: h.Cmdline,
			paths: fspolicy.Process{Cwd: h.Cwd, Exe: h.Exe, Home: h.Home, Tmp: h.Tmp},
			skip:  p.s.SkipProcess(h.Name, argv0),
		}
		p.procs[h.PID] = pr
		if !pr.skip {
			p.publishProcess(pr, "process_started")
		} else {
			p.log.Info("skipping process", "pid", h.PID, "name", h.Name)
		}
	}
	pr.conns++
	return pr
}

// leave drops a connection; when a process's last connection closes it has
// exited (or exec'd into a new image, which says HELLO again): its files are
// written back and its listeners unsubscribed.
func (p *Proxy) leave(pr *process) {
	p.mu.Lock()
	pr.conns--
	gone := pr.conns == 0 && p.procs[pr.pid] == pr
	if gone {
		delete(p.procs, pr.pid)
		if !pr.skip {
			p.publishProcess(pr, "process_exited")
		}
	}
	p.mu.Unlock()
	if gone {
		p.processGone(pr.pid)
	}
}

// publishProcess updates the registry; p.mu is held.
func (p *Proxy) publishProcess(pr *process, event string) {
	reg := p.cfg.Registry
	if reg == nil {
		return
	}
	rp := registry.Process{PID: int(pr.pid), ParentPID: int(pr.ppid), Name: pr.name, Cmdline: pr.cmdline}
	procs := make([]registry.Process, 0, len(p.procs))
	for _, q := range p.procs {
		if !q.skip {
			procs = append(procs, registry.Process{PID: int(q.pid), ParentPID: int(q.ppid), Name: q.name, Cmdline: q.cmdline})
		}
	}
	slices.SortFunc(procs, func(a, b registry.Process) int { return a.PID - b.PID })
	reg.Update(func(i *registry.Info) { i.Processes = procs })
	reg.Publish(registry.Event{Type: event, Process: &rp})
}

// helloAnswer is the session's flags and the fast path rules.
func (p *Proxy) helloAnswer(pr *process) *wire.Builder {
	var flags uint32
	if pr.skip {
		flags |= wire.FlagSkip
	}
	s := &p.s
	if p.fs.Active() {
		flags |= wire.FlagFS
		if p.fs.Fast() {
			flags |= wire.FlagFSFast
		}
	}
	if s.Outgoing.TCP {
		flags |= wire.FlagOutTCP
	}
	if s.Outgoing.UDP {
		flags |= wire.FlagOutUDP
	}
	if s.Outgoing.IgnoreLocalhost {
		flags |= wire.FlagIgnoreLocalhost
	}
	if s.DNS.Enabled {
		flags |= wire.FlagDNS
	}
	// Listeners are always reported: a connect to a local listener of the
	// session must stay local even when incoming traffic is off.
	flags |= wire.FlagIncoming
	if len(p.unixStreams) > 0 {
		flags |= wire.FlagUnixRemote
	}
	b := wire.NewResponse(wire.StatusOK).U32(flags)
	var rules []fspolicy.Rule
	if p.fs.Active() && p.fs.Fast() {
		rules = p.fs.Rules(pr.paths.Home)
	}
	b.U16(uint16(len(rules)))
	for _, r := range rules {
		b.U8(r.Kind).U8(r.Act).Str(r.S)
	}
	return b
}
