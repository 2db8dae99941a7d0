package agenttest

import (
	"fmt"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// SkLookupLinks lists the ids of the eBPF sk_lookup links attached to the
// target's network namespace (an agent's steering, see
// incoming.SkLookup).
func (p *Pod) SkLookupLinks() ([]link.ID, error) {
	st, err := os.Stat("/run/netns/" + p.Target)
	if err != nil {
		return nil, err
	}
	return SkLookupLinksOf(st.Sys().(*syscall.Stat_t).Ino)
}

// SkLookupLinksOf lists the ids of the sk_lookup links attached to the
// network namespace with inode ino.
func SkLookupLinksOf(ino uint64) ([]link.ID, error) {
	var ids []link.ID
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue // detached meanwhile
		}
		ns := info.NetNs()
		if ns == nil || ebpf.AttachType(ns.AttachType) != ebpf.AttachSkLookup || uint64(ns.NetnsInode) != ino {
			continue
		}
		ids = append(ids, info.ID)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list bpf links: %w", err)
	}
	return ids, nil
}

// Redirections describes what an agent left in the target's namespace:
// its iptables chains and sk_lookup links ("" when nothing).
func (p *Pod) Redirections() (string, error) {
	chains, err := p.Chains()
	if err != nil {
		return "", err
	}
	links, err := p.SkLookupLinks()
	if err != nil {
		return "", err
	}
	if len(chains) == 0 && len(links) == 0 {
		return "", nil
	}
	return fmt.Sprintf("iptables chains %v, sk_lookup links %v", chains, links), nil
}
