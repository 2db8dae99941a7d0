package portforward

import (
	"strings"
	"testing"
)

func TestParseLocal(t *testing.T) {
	tests := []struct {
		in      string
		want    LocalRoute
		wantErr string
	}{
		{in: "db:5432", want: LocalRoute{LocalPort: 5432, Host: "db", RemotePort: 5432}},
		{in: "8080:db:5432", want: LocalRoute{LocalPort: 8080, Host: "db", RemotePort: 5432}},
		{in: "8080:10.0.0.7:80", want: LocalRoute{LocalPort: 8080, Host: "10.0.0.7", RemotePort: 80}},
		{in: "api.default.svc.cluster.local:443", want: LocalRoute{LocalPort: 443, Host: "api.default.svc.cluster.local", RemotePort: 443}},
		{in: "9000:db.:1", want: LocalRoute{LocalPort: 9000, Host: "db.", RemotePort: 1}},
		{in: "[::1]:80", want: LocalRoute{LocalPort: 80, Host: "::1", RemotePort: 80}},
		{in: "8080:[fd00::7]:80", want: LocalRoute{LocalPort: 8080, Host: "fd00::7", RemotePort: 80}},
		{in: "65535:h_1:65535", want: LocalRoute{LocalPort: 65535, Host: "h_1", RemotePort: 65535}},
		{in: "", wantErr: `-L "": empty`},
		{in: "db", wantErr: `-L "db": no port`},
		{in: "db:", wantErr: `-L "db:": remote port is empty`},
		{in: ":80", wantErr: `-L ":80": empty host`},
		{in: "8080::80", wantErr: `-L "8080::80": empty host`},
		{in: ":db:80", wantErr: `-L ":db:80": empty local port before the host`},
		{in: "db:0", wantErr: `-L "db:0": remote port 0 is not allowed`},
		{in: "0:db:80", wantErr: `-L "0:db:80": local port 0 is not allowed`},
		{in: "db:65536", wantErr: `remote port "65536" is out of range 1-65535`},
		{in: "db:http", wantErr: `remote port "http" is not a number`},
		{in: "db:-1", wantErr: `remote port "-1" is not a number`},
		{in: "x:db:80", wantErr: `local port "x" is not a number`},
		{in: "1:2:db:80", wantErr: `local port "1:2" is not a number`},
		{in: "db!:80", wantErr: `character '!' at offset 2 is not allowed`},
		{in: "a..b:80", wantErr: `empty label at offset 2`},
		{in: "[10.0.0.1]:80", wantErr: `"10.0.0.1" in brackets is not an IPv6 address`},
		{in: "fd00::1:80", wantErr: `local port "fd00:" is not a number`},
		{in: "80[::1]:80", wantErr: `expected ':' before '['`},
		{in: "::1]:80", wantErr: `unbalanced ']'`},
		{in: "[::1:80", wantErr: `brackets are only for IPv6`},
		{in: strings.Repeat("a", 64) + ":80", wantErr: "longer than 63"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLocal(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLocal(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLocal(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in      string
		want    RemoteRoute
		wantErr string
	}{
		{in: "3000", want: RemoteRoute{RemotePort: 3000, LocalPort: 3000}},
		{in: "80:3000", want: RemoteRoute{RemotePort: 80, LocalPort: 3000}},
		{in: "", wantErr: `-R "": empty`},
		{in: "0", wantErr: `-R "0": local port 0 is not allowed`},
		{in: "0:80", wantErr: `-R "0:80": remote port 0 is not allowed`},
		{in: "80:0", wantErr: `local port 0 is not allowed`},
		{in: ":80", wantErr: `remote port is empty`},
		{in: "80:", wantErr: `local port is empty`},
		{in: "1:2:3", wantErr: `too many ':'`},
		{in: "70000", wantErr: `out of range`},
		{in: "db:80", wantErr: `remote port "db" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRemote(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRemote(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRemote(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name            string
		locals, remotes []string
		wantErr         string
		wantL, wantR    int
	}{
		{name: "many", locals: []string{"db:5432", "8080:api:80", "[::1]:9"}, remotes: []string{"80:3000", "81"}, wantL: 3, wantR: 2},
		{name: "only -R", remotes: []string{"80"}, wantR: 1},
		{name: "nothing", wantErr: "nothing to forward"},
		{name: "duplicate local", locals: []string{"8080:a:80", "8080:b:81"}, wantErr: `-L "8080:b:81": local port 8080 is already forwarded by -L "8080:a:80"`},
		{name: "duplicate local by default", locals: []string{"a:80", "80:b:81"}, wantErr: `local port 80 is already forwarded by -L "a:80"`},
		{name: "duplicate remote", remotes: []string{"80:3000", "80:3001"}, wantErr: `-R "80:3001": remote port 80 is already forwarded by -R "80:3000"`},
		{name: "same local port in -L and -R is fine", locals: []string{"3000:a:80"}, remotes: []string{"80:3001"}, wantL: 1, wantR: 1},
		{name: "bad -L stops", locals: []string{"db:0"}, wantErr: `-L "db:0"`},
		{name: "bad -R stops", locals: []string{"db:1"}, remotes: []string{"x"}, wantErr: `-R "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRoutes(tt.locals, tt.remotes)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(rs.Local) != tt.wantL || len(rs.Remote) != tt.wantR {
				t.Fatalf("routes = %+v, %v", rs, err)
			}
		})
	}
}

// FuzzParseLocal: never panics; an accepted value prints back to an
// equivalent value.
func FuzzParseLocal(f *testing.F) {
	for _, s := range []string{"db:5432", "8080:db:5432", "[::1]:80", "8080:[fd00::7]:80", "db:0", ":80", "a..b:1", "1:2:3:4", "[", "]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseLocal(s)
		if err != nil {
			return
		}
		if r.LocalPort == 0 || r.RemotePort == 0 || r.Host == "" {
			t.Fatalf("ParseLocal(%q) accepted %+v", s, r)
		}
		again, err := ParseLocal(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseLocal(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}

// FuzzParseRemote: never panics; an accepted value round-trips.
func FuzzParseRemote(f *testing.F) {
	for _, s := range []string{"80", "80:3000", "0", ":", "1:2:3", "99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRemote(s)
		if err != nil {
			return
		}
		if r.LocalPort == 0 || r.RemotePort == 0 {
			t.Fatalf("ParseRemote(%q) accepted %+v", s, r)
		}
		again, err := ParseRemote(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRemote(%q) = %+v; round trip %+v, %v", s, r, again, err)
		}
	})
}
