package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("Add(2, 3) != 5")
	}
}

func TestAbs(t *testing.T) {
	if Abs(-4) != 4 {
		t.Fatal("Abs(-4) != 4")
	}
}
