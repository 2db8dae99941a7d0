package suggest

import "testing"

func TestClosest(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"api", []string{"apj", "web"}, "apj"},
		{"wbe", []string{"web", "db"}, "web"},
		{"nginx-deploy", []string{"nginx-deployment", "redis"}, "nginx-deployment"},
		{"frontend", []string{"backend", "database"}, ""},
		{"api", []string{"api"}, ""},
		{"x", nil, ""},
		{"app", []string{"ap", "apps"}, "ap"},
		{"", []string{"a"}, "a"},
	}
	for _, tt := range tests {
		if got := Closest(tt.name, tt.candidates); got != tt.want {
			t.Errorf("Closest(%q, %q) = %q, want %q", tt.name, tt.candidates, got, tt.want)
		}
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		names []string
		limit int
		want  string
	}{
		{nil, 3, "none"},
		{[]string{"b", "a"}, 3, "a, b"},
		{[]string{"d", "c", "b", "a"}, 2, "a, b, and 2 more"},
		{[]string{"b", "a"}, 0, "a, b"},
	}
	for _, tt := range tests {
		if got := List(tt.names, tt.limit); got != tt.want {
			t.Errorf("List(%q, %d) = %q, want %q", tt.names, tt.limit, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"abc", "abc", 0}, {"wbe", "web", 1}, {"alpah", "alpha", 1},
	}
	for _, tt := range tests {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
