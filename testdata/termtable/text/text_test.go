package text

import "testing"

func TestShout(t *testing.T) {
	if Shout("hi") != "HI!" {
		t.Fatal("Shout")
	}
}

func TestWords(t *testing.T) {
	if Words("a b  c") != 3 {
		t.Fatal("Words")
	}
}
