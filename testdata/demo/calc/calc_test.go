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

func TestMean(t *testing.T) {
	if got := Mean(2, 4); got != 3 {
		t.Fatalf("Mean(2, 4) = %d; want 3", got)
	}
}

// TestMeanEmpty crashes its test process: Mean divides by len(xs), zero.
func TestMeanEmpty(t *testing.T) {
	if got := Mean(); got != 0 {
		t.Fatalf("Mean() = %d; want 0", got)
	}
}

// TestPercent fails: Percent divides before it multiplies.
func TestPercent(t *testing.T) {
	if got := Percent(1, 4); got != 25 {
		t.Fatalf("Percent(1, 4) = %d; want 25", got)
	}
}
