package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute/gateway"
	"github.com/covdist/covdist/distribute/xspec"
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

// socket= takes nice= (the serve applies it) and no chdir= (the serve owns
// its sessions' workspaces), even when the chdir comes with a popen//via=.
func TestSocketSpecKeys(t *testing.T) {
	s, err := xspec.Parse("socket=127.0.0.1:9//nice=5")
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := gatewayFor(s, "covdist", nil, workspaces{})
	if g, ok := gw.(*gateway.SSH); !ok || g.Nice != 5 {
		t.Errorf("got gateway %#v; want a socket gateway with Nice 5", gw)
	}
	tests := []struct {
		name   string
		tx, px []string
		want   string
	}{
		{"chdir on socket", []string{"socket=h:9//chdir=/tmp"}, nil, `key "chdir" does not apply to socket specs`},
		{"chdir via a socket proxy", []string{"popen//via=s//chdir=/tmp"}, []string{"socket=h:9//id=s"}, `--tx "popen//via=s//chdir=/tmp": via=s names a socket proxy: key "chdir" does not apply`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txs, pxs, err := parseSpecs(tt.tx, tt.px)
			if err == nil {
				_, err = resolveVia(txs, pxs)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want an error holding %q", err, tt.want)
			}
		})
	}
}

func TestRsyncDirs(t *testing.T) {
	tests := []struct {
		name string
		dirs []string
		want string // "" for no error; else in the error
		n    int    // directories kept
	}{
		{"distinct", []string{"/mod/a", "/x/shared", "/y/other"}, "", 3},
		{"one given twice", []string{"/x/shared", "/x/shared/"}, "", 1},
		{"one name inside and outside", []string{"/mod/shared", "/x/shared"}, "", 2},
		{"one name outside twice", []string{"/x/shared", "/y/shared"}, "--rsyncdir /x/shared and /y/shared would both go to ext/shared", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rsyncDirs("/mod", tt.dirs)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v; want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v; want an error holding %q", err, tt.want)
			case tt.want == "" && len(got) != tt.n:
				t.Fatalf("got %q; want %d directories", got, tt.n)
			}
		})
	}
}
