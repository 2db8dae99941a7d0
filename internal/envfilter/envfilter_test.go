package envfilter

import (
	"reflect"
	"testing"
)

func TestApply(t *testing.T) {
	env := map[string]string{"APP_KEY": "1", "APP_DEBUG": "2", "PATH": "/bin", "HOME": "/root"}
	tests := []struct {
		name             string
		include, exclude []string
		want             map[string]string
		wantErr          bool
	}{
		{"all", nil, nil, env, false},
		{"include glob", []string{"APP_*"}, nil, map[string]string{"APP_KEY": "1", "APP_DEBUG": "2"}, false},
		{"exclude wins", []string{"APP_*"}, []string{"*DEBUG"}, map[string]string{"APP_KEY": "1"}, false},
		{"exclude only", nil, []string{"PATH", "HOME"}, map[string]string{"APP_KEY": "1", "APP_DEBUG": "2"}, false},
		{"question mark", []string{"HOM?"}, nil, map[string]string{"HOME": "/root"}, false},
		{"bad pattern", []string{"[A-"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(env, tt.include, tt.exclude)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
