package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsCheck(t *testing.T) {
	valid := func() options {
		return options{token: "t", pid: 1, handshake: 5 * time.Second, maxPending: 512, redirect: "auto"}
	}
	tests := []struct {
		name    string
		change  func(*options)
		wantErr string
	}{
		{"valid", func(*options) {}, ""},
		{"no token", func(o *options) { o.token = "" }, "no session token"},
		{"unknown redirect", func(o *options) { o.redirect = "nat" }, "--redirect"},
		{"zero handshake timeout", func(o *options) { o.handshake = 0 }, "--handshake-timeout"},
		{"negative handshake timeout", func(o *options) { o.handshake = -time.Second }, "--handshake-timeout"},
		{"zero max pending", func(o *options) { o.maxPending = 0 }, "--max-pending-handshakes"},
		{"two targets", func(o *options) { o.netnsPath = "/x" }, "exclude each other"},
		{"no target", func(o *options) { o.pid = 0 }, "no target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(&o)
			err := o.check()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("check: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    options
		env  string
		want string
	}{
		{"env", options{}, "from-env", "from-env"},
		{"file beats env", options{tokenFile: file}, "from-env", "from-file"},
		{"none", options{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if err := o.readToken(tt.env); err != nil {
				t.Fatal(err)
			}
			if o.token != tt.want {
				t.Fatalf("token %q, want %q", o.token, tt.want)
			}
		})
	}
	o := options{tokenFile: filepath.Join(dir, "missing")}
	if err := o.readToken("x"); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("missing token file: %v", err)
	}
}
