package deeper

import "testing"

func TestDepth(t *testing.T) {
	if Depth() != 3 {
		t.Fatal("Depth")
	}
}
