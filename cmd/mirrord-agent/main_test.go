package main

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsCheck(t *testing.T) {
	valid := func() options {
		return options{token: "t", pid: 1, handshake: 5 * time.Second, maxPending: 512}
	}
	tests := []struct {
		name    string
		change  func(*options)
		wantErr string
	}{
		{"valid", func(*options) {}, ""},
		{"no token", func(o *options) { o.token = "" }, "no session token"},
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
