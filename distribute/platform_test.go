package distribute

import (
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute/wire"
)

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		name          string
		remote        bool
		goos, goarch  string
		exec          []string
		host, hostArc string
		refuse        bool
	}{
		{"same", true, "linux", "arm64", nil, "linux", "arm64", false},
		{"386 on amd64", true, "linux", "386", nil, "linux", "amd64", false},
		{"arm on arm64", true, "linux", "arm", nil, "linux", "arm64", false},
		{"arm64 binaries on an amd64 host", true, "linux", "arm64", nil, "linux", "amd64", true},
		{"amd64 binaries on an arm64 host", true, "linux", "amd64", nil, "linux", "arm64", true},
		{"another GOOS", true, "darwin", "arm64", nil, "linux", "arm64", true},
		{"a wrapper runs them", true, "linux", "arm64", []string{"qemu-aarch64"}, "linux", "amd64", false},
		{"local workers are not checked", false, "linux", "arm64", nil, "linux", "amd64", false},
		{"unknown platform", true, "", "", nil, "linux", "amd64", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &workerState{Worker: Worker{ID: "gw0", Remote: tt.remote},
				platform: &Platform{Name: "p", GOOS: tt.goos, GOARCH: tt.goarch, Exec: tt.exec}}
			err := (&coordinator{}).checkPlatform(w, &wire.Hello{GOOS: tt.host, GOARCH: tt.hostArc})
			if (err != nil) != tt.refuse {
				t.Fatalf("got %v; want refused=%v", err, tt.refuse)
			}
			if err != nil && !strings.Contains(err.Error(), "//goos="+tt.host+"//goarch="+tt.hostArc) {
				t.Errorf("the refusal does not say what to add to the spec: %v", err)
			}
		})
	}
}
