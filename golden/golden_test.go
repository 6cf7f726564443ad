package golden

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		replacements []string
		want         string
	}{
		{"nothing by default", "/tmp/x 12:00", nil, "/tmp/x 12:00"},
		{"one pair", "ran in /tmp/x/mod", []string{"/tmp/x", "$WORK"}, "ran in $WORK/mod"},
		{"pairs apply in order", "host1 at /tmp/x", []string{"/tmp/x", "$WORK", "host1", "$HOST"}, "$HOST at $WORK"},
		{"every occurrence", "a a a", []string{"a", "b"}, "b b b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Normalize([]byte(tt.in), tt.replacements...)); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeOddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("got no panic for an odd number of strings; want one")
		}
	}()
	Normalize([]byte("x"), strings.Fields("x")...) // a slice, so the odd count is a run-time mistake
}

func TestDiff(t *testing.T) {
	got := diff([]byte("a\nb\nc\n"), []byte("a\nB\nc\n"))
	if want := "first difference at line 2:\n  got:  \"b\"\n  want: \"B\"\n"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q; want it to start with %q", got, want)
	}
}
