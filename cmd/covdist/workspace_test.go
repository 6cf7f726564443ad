package main

import (
	"regexp"
	"testing"
)

func TestWorkspaceKey(t *testing.T) {
	tests := []struct {
		name, dir string
		want      string // a pattern
	}{
		{"plain", "/home/me/src/calc", `^calc-[0-9a-f]{12}$`},
		{"odd characters", "/home/me/my module (copy)", `^my_module__copy_-[0-9a-f]{12}$`},
		{"dot dir", "/home/me/.hidden", `^hidden-[0-9a-f]{12}$`},
		{"root", "/", `^_-[0-9a-f]{12}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workspaceKey(tt.dir); !regexp.MustCompile(tt.want).MatchString(got) {
				t.Errorf("workspaceKey(%q) = %q; want it to match %s", tt.dir, got, tt.want)
			}
		})
	}
	if a, b := workspaceKey("/a/calc"), workspaceKey("/b/calc"); a == b {
		t.Errorf("two checkouts of one name: both %q; want two keys", a)
	}
	if a, b := workspaceKey("/a/calc"), workspaceKey("/a/calc"); a != b {
		t.Errorf("one checkout: got %q and %q; want one key", a, b)
	}
}
