package main

import (
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute"
)

// workerGroups makes one group per distinct platform, however the specs
// spell it, and refuses several platforms outside each mode.
func TestWorkerGroups(t *testing.T) {
	host := hostGOOS() + "/" + hostGOARCH()
	tests := []struct {
		name    string
		dist    string
		n       string
		tx      []string
		px      []string
		want    []string // each group: its name and worker count
		wantErr string
	}{
		{name: "default", want: []string{host + " x1"}},
		{name: "n", n: "3", want: []string{host + " x3"}},
		{name: "no keeps one worker", dist: "no", tx: []string{"3*popen"}, want: []string{host + " x1"}},
		{name: "no on another platform", dist: "no", tx: []string{"popen//goarch=386"}, want: []string{hostGOOS() + "/386 x1"}},
		{name: "each", dist: "each", tx: []string{"2*popen", "popen//goarch=386", "popen//goarch=arm64//exec=qemu-aarch64 -L /x"},
			want: []string{host + " x2", hostGOOS() + "/386 x1", hostGOOS() + "/arm64 exec=qemu-aarch64 -L /x x1"}},
		{name: "one platform spelled twice", dist: "each", tx: []string{"popen", "popen//goarch=" + hostGOARCH() + "//goos=" + hostGOOS()},
			want: []string{host + " x2"}},
		{name: "tags and env in any order", dist: "each", tx: []string{"popen//tags=a,b//env:X=1//env:Y=2", "popen//env:Y=2//env:X=1//tags=b,a"},
			want: []string{host + " tags=a,b env:X=1 env:Y=2 x2"}},
		{name: "each with -n", dist: "each", n: "2", tx: []string{"popen//go=go1.24.0"},
			want: []string{host + " x2", host + " go1.24.0 x1"}},
		{name: "load over platforms", tx: []string{"popen", "popen//goarch=386"}, wantErr: "--dist=load sends each test to one worker, but the --tx specs name 2 platforms"},
		{name: "loadpkg over platforms", dist: "loadpkg", tx: []string{"popen//tags=x", "popen"}, wantErr: "use --dist=each"},
		{name: "no over platforms", dist: "no", tx: []string{"popen//go=go1.24.0", "popen//go=go1.25.0"}, wantErr: "--dist=no runs every test once on one worker"},
		// Whether go=go1.24.0 is the host's own toolchain is known once probed.
		{name: "load over what may be one platform", tx: []string{"popen//go=go1.24.0", "popen"},
			want: []string{host + " go1.24.0 x1", host + " x1"}},
		{name: "load over one release spelled twice", tx: []string{"popen//go=go1.24", "popen//go=go1.24.13"},
			want: []string{host + " go1.24 x1", host + " go1.24.13 x1"}},
		{name: "load mixes local and remote workers", tx: []string{"popen", "2*ssh=build@h1"}, want: []string{host + " x3"}},
		{name: "each makes every host a platform", dist: "each", tx: []string{"popen", "ssh=h1", "ssh=h2:2222", "socket=127.0.0.1:8888"},
			want: []string{host + " x1", host + " ssh=h1 x1", host + " ssh=h2:2222 x1", host + " socket=127.0.0.1:8888 x1"}},
		{name: "via a proxy", tx: []string{"2*popen//via=bastion"}, px: []string{"ssh=b.example//id=bastion"}, want: []string{host + " x2"}},
		{name: "via names no proxy", tx: []string{"popen//via=nope"}, wantErr: "nope"},
		{name: "via to a third host", dist: "each", tx: []string{"ssh=inner//via=b", "ssh=inner"}, px: []string{"ssh=b.example//id=b"},
			want: []string{host + " ssh=inner via ssh=b.example x1", host + " ssh=inner x1"}},
		{name: "pipe via a proxy", tx: []string{"pipe=kubectl exec -i p --//via=b"}, px: []string{"ssh=b.example//id=b"}, wantErr: "cannot go via a proxy"},
		{name: "ssh via a pipe proxy", tx: []string{"ssh=inner//via=b"}, px: []string{"pipe=kubectl exec -i p --//id=b"}, wantErr: "only through an ssh= proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &options{dist: tt.dist, numProcesses: tt.n, tx: tt.tx, px: tt.px}
			groups, mode, err := workerGroups(o, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.dist != "" && mode != distribute.Mode(tt.dist) {
				t.Errorf("got mode %q; want %q", mode, tt.dist)
			}
			var got []string
			for _, g := range groups {
				got = append(got, g.name()+" x"+string(rune('0'+len(g.specs))))
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("got groups %q; want %q", got, tt.want)
			}
		})
	}
}

func TestFromModuleRoot(t *testing.T) {
	tests := []struct{ wd, pattern, want string }{
		{"/m", "./...", "./..."},
		{"/m/calc", "./...", "./calc/..."},
		{"/m/calc", ".", "./calc"},
		{"/m/calc", "../sub", "./sub"},
		{"/m/calc", "../sub/...", "./sub/..."},
		{"/m/a/b", "..", "./a"},
		{"/m", ".", "."},
		{"/m/calc", "example.com/m/sub", "example.com/m/sub"},
		{"/m/calc", "../../elsewhere", "../elsewhere"},
	}
	for _, tt := range tests {
		if got := fromModuleRoot(tt.wd, "/m", []string{tt.pattern})[0]; got != tt.want {
			t.Errorf("from %s, %q: got %q; want %q", tt.wd, tt.pattern, got, tt.want)
		}
	}
}
