package fspolicy

import (
	"testing"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/layer/wire"
)

func TestDecide(t *testing.T) {
	proc := Process{Cwd: "/work/proj", Exe: "/work/proj/app", Home: "/home/dev", Tmp: "/tmp"}
	read := settings.FS{Mode: settings.FSRead}
	tests := []struct {
		name  string
		fs    settings.FS
		path  string
		write bool
		want  Decision
	}{
		{"read mode remote", read, "/app/config.yaml", false, RemoteRead},
		{"read mode write goes local", read, "/app/out.log", true, Local},
		{"system dirs local", read, "/usr/lib/libc.so.6", false, Local},
		{"lib prefix without boundary", read, "/library/x", false, Local},
		{"python sources local", read, "/srv/app/main.py", false, Local},
		{"node_modules local", read, "/srv/node_modules/x/index.json", false, Local},
		{"etc local", read, "/etc/passwd", false, Local},
		{"hosts remote", read, "/etc/hosts", false, RemoteRead},
		{"resolv.conf remote", read, "/etc/resolv.conf", false, RemoteRead},
		{"certs remote", read, "/etc/ssl/certs/ca.pem", false, RemoteRead},
		{"kube config not found", read, "/home/dev/.kube/config", false, NotFound},
		{"cwd local", read, "/work/proj/data.json", false, Local},
		{"cwd itself local", read, "/work/proj", false, Local},
		{"exe local", read, "/work/proj/app", false, Local},
		{"root local", read, "/", false, Local},
		{"home dotfile local", read, "/home/dev/.bashrc", false, Local},
		{"relative local", read, "data.json", false, Local},
		{"case insensitive", read, "/USR/bin/cat", false, Local},
		{"write mode", settings.FS{Mode: settings.FSWrite}, "/app/out.log", true, RemoteWrite},
		{"local mode", settings.FS{Mode: settings.FSLocal}, "/app/config.yaml", false, Local},
		{"localwithoverrides default", settings.FS{Mode: settings.FSLocalWithOverrides}, "/app/config.yaml", false, Local},
		{"localwithoverrides read_only", settings.FS{Mode: settings.FSLocalWithOverrides, ReadOnly: []string{"^/app/"}}, "/app/config.yaml", false, RemoteRead},
		{"user not_found first", settings.FS{Mode: settings.FSRead, NotFound: []string{"secret"}, ReadWrite: []string{"secret"}}, "/app/secret", false, NotFound},
		{"user read_write over defaults", settings.FS{Mode: settings.FSRead, ReadWrite: []string{`^/tmp/shared/`}}, "/tmp/shared/x", true, RemoteWrite},
		{"user local over mode", settings.FS{Mode: settings.FSWrite, Local: []string{`\.log$`}}, "/app/out.LOG", true, Local},
		{"lookahead pattern", settings.FS{Mode: settings.FSLocalWithOverrides, ReadOnly: []string{`^/data/(?!private)`}}, "/data/public.txt", false, RemoteRead},
		{"lookahead pattern excluded", settings.FS{Mode: settings.FSLocalWithOverrides, ReadOnly: []string{`^/data/(?!private)`}}, "/data/private.txt", false, Local},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.fs)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Decide(tt.path, tt.write, proc); got != tt.want {
				t.Fatalf("Decide(%q, write=%v) = %v, want %v", tt.path, tt.write, got, tt.want)
			}
		})
	}
}

// TestRulesAgreeWithDecide checks that the rules the C layer applies say
// "local" only where Decide does.
func TestRulesAgreeWithDecide(t *testing.T) {
	p, err := New(settings.FS{Mode: settings.FSRead})
	if err != nil {
		t.Fatal(err)
	}
	proc := Process{Home: "/home/dev"}
	for _, path := range []string{"/etc/hosts", "/etc/passwd", "/app/x", "/usr/bin/cat", "/home/dev/.kube/config", "/srv/a.py", "/var/tmp/x", "/proc/self/maps"} {
		var act uint8
		for _, r := range p.Rules(proc.Home) {
			if r.Match(path) {
				act = r.Act
				break
			}
		}
		local := p.Decide(path, false, proc) == Local
		if (act == wire.ActLocal) != local {
			t.Errorf("%s: rules say act %d, Decide says local=%v", path, act, local)
		}
	}
}

func TestBadPattern(t *testing.T) {
	if _, err := New(settings.FS{Mode: settings.FSRead, ReadOnly: []string{"("}}); err == nil {
		t.Fatal("bad pattern accepted")
	}
}
