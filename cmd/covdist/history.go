package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/covdist/covdist/distribute"
)

// history remembers test durations between runs, per module, in the user's
// cache directory, so the scheduler can start the longest tests first.
type history struct {
	path      string
	Durations map[string]float64 `json:"durations"` // "platform\x00pkg\x00test" -> seconds
	dirty     bool
}

func historyKey(platform, pkg, test string) string { return platform + "\x00" + pkg + "\x00" + test }

func loadHistory(moduleDir string) *history {
	h := &history{Durations: make(map[string]float64)}
	dir, err := os.UserCacheDir()
	if err != nil {
		return h
	}
	sum := sha256.Sum256([]byte(moduleDir))
	h.path = filepath.Join(dir, "covdist", "durations-"+hex.EncodeToString(sum[:8])+".json")
	b, err := os.ReadFile(h.path)
	if err != nil {
		return h
	}
	if json.Unmarshal(b, h) != nil || h.Durations == nil {
		h.Durations = make(map[string]float64) // a corrupt cache is only a lost hint
	}
	return h
}

// Estimate implements distribute.Estimator.
func (h *history) Estimate(platform, pkg, test string) (float64, bool) {
	s, ok := h.Durations[historyKey(platform, pkg, test)]
	return s, ok
}

// record folds a run's durations in, smoothing so one slow run does not
// overturn the order.
func (h *history) record(o *distribute.Outcome) {
	for _, d := range o.Durations {
		k := historyKey(d.Platform, d.Package, d.Test)
		if old, ok := h.Durations[k]; ok {
			h.Durations[k] = 0.5*old + 0.5*d.Seconds
		} else {
			h.Durations[k] = d.Seconds
		}
		h.dirty = true
	}
}

func (h *history) save() error {
	if h.path == "" || !h.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(h.path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, h.path)
}
