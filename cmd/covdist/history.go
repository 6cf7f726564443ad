package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/covdist/covdist/distribute"
)

// history remembers test durations between runs, per module, so the
// scheduler can start the longest tests first: in the user's cache
// directory ($XDG_CACHE_HOME/covdist/durations-HASH.json, HASH of the
// module's directory; ~/.cache on Linux, ~/Library/Caches on macOS), or in
// the file --durations names, which CI can keep between runs of ephemeral
// runners: its keys are platforms, packages and tests, no paths.
type history struct {
	path      string
	Format    int                `json:"format"`
	Durations map[string]float64 `json:"durations"` // "platform\x00pkg\x00test" -> seconds
	dirty     bool
}

// historyFormat is the version of the durations file's layout.
const historyFormat = 1

func historyKey(platform, pkg, test string) string { return platform + "\x00" + pkg + "\x00" + test }

// historyPath is where the durations of the module in moduleDir are kept
// when --durations names no file; "" when there is no cache directory.
func historyPath(moduleDir string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(moduleDir))
	return filepath.Join(dir, "covdist", "durations-"+hex.EncodeToString(sum[:8])+".json")
}

// loadHistory reads the durations remembered for the module in moduleDir,
// from file when it is set. A cache file that does not parse is only a
// lost hint; a --durations file that does not parse is an error naming it,
// since the user asked for that file. A file that does not exist yet is a
// first run.
func loadHistory(moduleDir, file string) (*history, error) {
	h := &history{Format: historyFormat, Durations: make(map[string]float64), path: file}
	if file == "" {
		h.path = historyPath(moduleDir)
		if h.path == "" {
			return h, nil
		}
	}
	b, err := os.ReadFile(h.path)
	if err != nil {
		if file != "" && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--durations: %w", err)
		}
		return h, nil
	}
	if err := json.Unmarshal(b, h); err != nil || h.Durations == nil || h.Format > historyFormat {
		if file != "" {
			why := "not a covdist durations file"
			if err != nil {
				why += ": " + err.Error()
			} else if h.Format > historyFormat {
				why = fmt.Sprintf("format %d, newer than this covdist's %d", h.Format, historyFormat)
			}
			return nil, fmt.Errorf("--durations %s: %s (remove it to start afresh)", file, why)
		}
		h.Durations = make(map[string]float64)
	}
	h.Format = historyFormat
	return h, nil
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
