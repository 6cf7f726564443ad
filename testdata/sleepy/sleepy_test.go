package covdistsleepy

import (
	"testing"
	"time"
)

func TestQuick(t *testing.T) {}

func TestSleep(t *testing.T) {
	time.Sleep(time.Duration(Nap()) * time.Second)
}
