package calc

import "testing"

func TestSum(t *testing.T) {
	if got := Sum(1, 2, 3); got != 6 {
		t.Fatalf("Sum(1, 2, 3) = %d; want 6", got)
	}
}

func TestDiv(t *testing.T) {
	if q, ok := Div(7, 2); !ok || q != 3 {
		t.Fatalf("Div(7, 2) = %d, %v; want 3, true", q, ok)
	}
}

func TestClamp(t *testing.T) {
	if got := Clamp(5, 0, 10); got != 5 {
		t.Fatalf("Clamp(5, 0, 10) = %d; want 5", got)
	}
}
