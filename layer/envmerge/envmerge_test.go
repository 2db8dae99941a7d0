package envmerge

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
)

func TestMerge(t *testing.T) {
	remote := map[string]string{
		"DB_URL": "postgres://db", "DB_PASSWORD": "x", "API_KEY": "k", "PATH": "/remote/bin",
		"HOME": "/root", "MIRRORD_X": "1", "Secret_Token": "t",
	}
	files := map[string]string{"/cfg/.env": "FROM_FILE=1\nDB_URL=file://db\n"}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		name    string
		cfg     settings.Env
		want    map[string]string
		unset   []string
		wantErr string
	}{
		{"builtins excluded", settings.Env{},
			map[string]string{"DB_URL": "postgres://db", "DB_PASSWORD": "x", "API_KEY": "k", "Secret_Token": "t"}, nil, ""},
		{"include", settings.Env{Include: []string{"DB_*"}},
			map[string]string{"DB_URL": "postgres://db", "DB_PASSWORD": "x"}, nil, ""},
		{"exclude", settings.Env{Exclude: []string{"DB_*", "Secret*"}},
			map[string]string{"API_KEY": "k"}, nil, ""},
		{"env file over remote", settings.Env{Include: []string{"DB_URL"}, EnvFile: "/cfg/.env"},
			map[string]string{"DB_URL": "file://db", "FROM_FILE": "1"}, nil, ""},
		{"mapping then override then unset", settings.Env{
			Include:  []string{"DB_*", "API_KEY"},
			Mapping:  map[string]string{"^DB_(?!URL)": "masked"},
			Override: map[string]string{"API_KEY": "local-key", "NEW": "n"},
			Unset:    []string{"db_url"},
		}, map[string]string{"DB_PASSWORD": "masked", "API_KEY": "local-key", "NEW": "n"}, []string{"db_url"}, ""},
		{"disabled keeps file and override", settings.Env{Disabled: true, Override: map[string]string{"A": "1"}},
			map[string]string{"A": "1"}, nil, ""},
		{"missing env file", settings.Env{EnvFile: "/nope"}, nil, nil, "feature.env.env_file: file does not exist"},
		{"bad mapping", settings.Env{Mapping: map[string]string{"(": "x"}}, nil, nil, `feature.env.mapping: pattern "("`},
		{"bad include", settings.Env{Include: []string{"[a-"}}, nil, nil, "feature.env include/exclude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Merge(remote, tt.cfg, read)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Set, tt.want) || !reflect.DeepEqual(r.Unset, tt.unset) {
				t.Fatalf("got %v unset %v, want %v unset %v", r.Set, r.Unset, tt.want, tt.unset)
			}
		})
	}
}

func TestParseDotenv(t *testing.T) {
	src := "# comment\n\nA=1\nexport B = two words # trailing\nC='single # kept'\nD=\"line\\nnext \\\"q\\\"\"\nE=\"multi\nline\"\nF=\n"
	got, err := ParseDotenv(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "line\nnext \"q\"", "E": "multi\nline", "F": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []struct{ src, err string }{
		{"A=1\nnovalue\n", "line 2: want KEY=VALUE"},
		{"1A=x", `line 1: "1A" is not a variable name`},
		{"A='open", "line 1: unterminated single quote"},
		{"A=\"open\nstill", "line 1: unterminated double quote"},
	} {
		if _, err := ParseDotenv(bad.src); err == nil || err.Error() != bad.err {
			t.Errorf("ParseDotenv(%q) err = %v, want %q", bad.src, err, bad.err)
		}
	}
}

func FuzzParseDotenv(f *testing.F) {
	f.Add("A=1\nexport B='x'\nC=\"y\\n\"\n# c\n")
	f.Add("E=\"multi\nline\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		vars, err := ParseDotenv(src)
		if err != nil {
			return
		}
		for k := range vars {
			if !validName(k) {
				t.Fatalf("invalid name %q accepted", k)
			}
		}
	})
}
