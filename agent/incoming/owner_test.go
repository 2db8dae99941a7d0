package incoming

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestOwnerComment(t *testing.T) {
	o := Owner{PIDNS: 4026531836, BootID: "5dee7abf-31e7-4c3b-bc6a-d886bb0b92db", Procs: []Proc{{PID: 123, Start: 456}, {PID: 7, Start: 8}}}
	c := o.Comment()
	if strings.ContainsAny(c, " \t\"") || len(c) > 255 {
		t.Fatalf("comment %q is not a plain iptables comment", c)
	}
	got, ok := ParseOwner(c)
	if !ok || got.PIDNS != o.PIDNS || got.BootID != o.BootID || len(got.Procs) != 2 || got.Procs[0] != o.Procs[0] || got.Procs[1] != o.Procs[1] {
		t.Fatalf("ParseOwner(%q) = %+v, %v", c, got, ok)
	}
	for _, bad := range []string{
		"",
		"something else",
		ownerTag,
		ownerTag + "pidns=1:boot=b",
		ownerTag + "pidns=1:boot=b:procs=",
		ownerTag + "pidns=1:boot=b:procs=x@1",
		ownerTag + "pidns=1:boot=b:procs=0@1",
		ownerTag + "pidns=x:boot=b:procs=1@1",
		ownerTag + "pidns=1:boot=:procs=1@1",
		ownerTag + "boot=b:procs=1@1",
	} {
		if o, ok := ParseOwner(bad); ok {
			t.Errorf("ParseOwner(%q) = %+v, want not an owner", bad, o)
		}
	}
}

func TestOwnerGone(t *testing.T) {
	self, err := SelfOwner(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(self.Procs) != 2 || self.Procs[0].PID != os.Getpid() || self.Procs[1].PID != os.Getppid() {
		t.Fatalf("SelfOwner(true) = %+v", self)
	}
	sys, err := currentSystem()
	if err != nil {
		t.Fatal(err)
	}

	// An exited and collected process.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	// An exited process nobody collected yet (a zombie).
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	zstart := waitZombie(t, zombie.Process.Pid)

	withProcs := func(procs ...Proc) Owner {
		o := sys
		o.Procs = procs
		return o
	}
	me := self.Procs[0]
	tests := []struct {
		name  string
		owner Owner
		gone  bool
	}{
		{"this process", withProcs(me), false},
		{"this process and a gone one", withProcs(Proc{done.Process.Pid, 1}, me), false},
		{"a collected process", withProcs(Proc{done.Process.Pid, 1}), true},
		{"a zombie", withProcs(Proc{zombie.Process.Pid, zstart}), true},
		{"this pid, another start time", withProcs(Proc{me.PID, me.Start + 1}), true},
		{"another pid namespace", Owner{PIDNS: sys.PIDNS + 1, BootID: sys.BootID, Procs: []Proc{{done.Process.Pid, 1}}}, false},
		{"another boot", Owner{PIDNS: sys.PIDNS, BootID: "not-this-boot", Procs: []Proc{me}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gone, why := tt.owner.Gone()
			if gone != tt.gone || why == "" {
				t.Fatalf("Gone() = %v (%s), want %v", gone, why, tt.gone)
			}
		})
	}
}

// waitZombie waits until pid has exited without being collected and
// returns its start time.
func waitZombie(t *testing.T, pid int) uint64 {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		start, state, err := procStart(pid)
		if err != nil {
			t.Fatal(err)
		}
		if state == 'Z' {
			return start
		}
	}
	t.Fatalf("process %d did not become a zombie", pid)
	return 0
}
