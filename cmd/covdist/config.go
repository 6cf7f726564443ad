package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/covdist/covdist/distribute/xspec"
)

// configFileName is the file findConfig looks for at the module root.
const configFileName = "covdist.toml"

// fileConfig is a covdist.toml as loaded: the options a project keeps next
// to its code. A sample:
//
//	tx = ["4*popen", "ssh=ci@build1//id=b1//goarch=arm64"]
//	px = []
//	dist = "load"                 # no, load, loadpkg or each
//	rsyncdirs = [".", "../shared"] # relative to this file
//	rsyncignore = ["*.tmp", ".git"]
//	numprocesses = "auto"         # or a number
//	cov = ["./..."]
//	covermode = "atomic"          # set, count or atomic
//	cov_fail_under = 85.0
//	cov_report = ["term-missing", "xml:coverage.xml"]
//	timeout = "10m"
//
//	[thresholds]                  # per-package or per-file minimum percent
//	"github.com/covdist/covdist/coverage" = 90
//	"distribute/xspec/*.go" = 95
//
// Every value has been checked; empty fields were not in the file.
type fileConfig struct {
	Path         string   // absolute path of the file
	Tx, Px       []string // execution specs; each parses with xspec.Parse
	Dist         string
	RsyncDirs    []string // absolute, resolved against the file's directory
	RsyncIgnore  []string
	NumProcesses string // "auto" or a decimal number, as -n takes
	Cov          []string
	CoverMode    string
	CovFailUnder *float64
	CovReport    []string
	Timeout      string // a time.ParseDuration string
	Thresholds   map[string]float64
}

// configFile is the TOML shape of covdist.toml. numprocesses is a Primitive
// because it is either an integer or the string "auto".
type configFile struct {
	Tx           []string           `toml:"tx"`
	Px           []string           `toml:"px"`
	Dist         string             `toml:"dist"`
	RsyncDirs    []string           `toml:"rsyncdirs"`
	RsyncIgnore  []string           `toml:"rsyncignore"`
	NumProcesses toml.Primitive     `toml:"numprocesses"`
	Cov          []string           `toml:"cov"`
	CoverMode    string             `toml:"covermode"`
	CovFailUnder *float64           `toml:"cov_fail_under"`
	CovReport    []string           `toml:"cov_report"`
	Timeout      string             `toml:"timeout"`
	Thresholds   map[string]float64 `toml:"thresholds"`
}

// configKeys are the top-level keys of covdist.toml. The toml package matches
// struct fields case-insensitively; covdist does not, so that "TX" is
// reported instead of silently read.
var configKeys = []string{
	"tx", "px", "dist", "rsyncdirs", "rsyncignore", "numprocesses",
	"cov", "covermode", "cov_fail_under", "cov_report", "timeout", "thresholds",
}

// configReportTypes are the TYPEs of cov_report entries, TYPE[:DEST].
var configReportTypes = []string{"term", "term-missing", "skip-covered", "html", "xml", "lcov", "json", "out"}

// findConfig returns moduleRoot/covdist.toml if it exists, else "".
func findConfig(moduleRoot string) string {
	path := filepath.Join(moduleRoot, configFileName)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path
	}
	return ""
}

// loadConfig reads and checks the covdist.toml at path. Errors name the file,
// and the line where the toml package reports one, as in
// "covdist.toml:3: dist: incompatible types: ...".
func loadConfig(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var raw configFile
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, configTOMLError(path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	cfg := &fileConfig{
		Path:         abs,
		Tx:           raw.Tx,
		Px:           raw.Px,
		Dist:         raw.Dist,
		RsyncIgnore:  raw.RsyncIgnore,
		Cov:          raw.Cov,
		CoverMode:    raw.CoverMode,
		CovFailUnder: raw.CovFailUnder,
		CovReport:    raw.CovReport,
		Timeout:      raw.Timeout,
		Thresholds:   raw.Thresholds,
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
	}

	if md.IsDefined("numprocesses") {
		n, err := configNumProcesses(&md, raw.NumProcesses)
		if err != nil {
			return nil, bad("numprocesses: %v", err)
		}
		cfg.NumProcesses = n
	}
	if unknown := configUnknownKeys(&md, string(data)); len(unknown) > 0 {
		for i, u := range unknown {
			unknown[i] = path + u
		}
		return nil, errors.New(strings.Join(unknown, "\n"))
	}

	for _, list := range []struct {
		key   string
		specs []string
	}{{"tx", raw.Tx}, {"px", raw.Px}} {
		for _, s := range list.specs {
			if _, err := xspec.Parse(s); err != nil {
				return nil, bad("%s: %v", list.key, err)
			}
		}
	}
	if err := configOneOf("dist", raw.Dist, "no", "load", "loadpkg", "each"); err != nil {
		return nil, bad("%v", err)
	}
	for _, d := range raw.RsyncDirs {
		if d == "" {
			return nil, bad("rsyncdirs: empty path")
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(filepath.Dir(abs), d)
		}
		cfg.RsyncDirs = append(cfg.RsyncDirs, filepath.Clean(d))
	}
	for _, g := range raw.RsyncIgnore {
		if _, err := filepath.Match(g, ""); g == "" || err != nil {
			return nil, bad("rsyncignore: bad glob %q", g)
		}
	}
	for _, c := range raw.Cov {
		if c == "" {
			return nil, bad("cov: empty pattern")
		}
	}
	if err := configOneOf("covermode", raw.CoverMode, "set", "count", "atomic"); err != nil {
		return nil, bad("%v", err)
	}
	if p := raw.CovFailUnder; p != nil && !configIsPercent(*p) {
		return nil, bad("cov_fail_under: %v is not a percentage from 0 to 100", *p)
	}
	for _, r := range raw.CovReport {
		typ, _, _ := strings.Cut(r, ":")
		if !slices.Contains(configReportTypes, typ) {
			return nil, bad("cov_report: unknown report %q: want TYPE[:DEST] with TYPE one of %s",
				r, strings.Join(configReportTypes, ", "))
		}
	}
	if raw.Timeout != "" {
		if d, err := time.ParseDuration(raw.Timeout); err != nil || d < 0 {
			return nil, bad("timeout: bad duration %q: want a Go duration such as 90s or 10m", raw.Timeout)
		}
	}
	for _, pattern := range slices.Sorted(maps.Keys(raw.Thresholds)) {
		pct := raw.Thresholds[pattern]
		if pattern == "" {
			return nil, bad("thresholds: empty package or file pattern")
		}
		if !configIsPercent(pct) {
			return nil, bad("thresholds: %q = %v is not a percentage from 0 to 100", pattern, pct)
		}
	}
	return cfg, nil
}

// configNumProcesses reads numprocesses, an integer or "auto", as the string
// the -n flag takes (0 as -n 0).
func configNumProcesses(md *toml.MetaData, p toml.Primitive) (string, error) {
	const want = `want a number of workers or "auto"`
	switch md.Type("numprocesses") {
	case "Integer":
		var n int64
		if err := md.PrimitiveDecode(p, &n); err != nil {
			return "", err
		}
		if n < 0 {
			return "", fmt.Errorf("%d: %s", n, want)
		}
		return strconv.FormatInt(n, 10), nil
	case "String":
		var s string
		if err := md.PrimitiveDecode(p, &s); err != nil {
			return "", err
		}
		if s == "auto" {
			return s, nil
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && strings.Trim(s, "0123456789") == "" {
			return strconv.Itoa(n), nil
		}
		return "", fmt.Errorf("%q: %s", s, want)
	default:
		// Decode it anyway so that Undecoded does not also report it.
		var v any
		_ = md.PrimitiveDecode(p, &v)
		return "", fmt.Errorf("got TOML type %s: %s", md.Type("numprocesses"), want)
	}
}

// configUnknownKeys describes each key the file has that covdist does not
// read, with a hint when it looks like a misspelt known key.
// Each is ":LINE: MESSAGE", to follow the file's name.
func configUnknownKeys(md *toml.MetaData, text string) []string {
	undecoded := make(map[string]bool)
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	var out []string
	reported := make(map[string]bool) // top-level names already reported
	for _, k := range md.Keys() {
		if reported[k[0]] {
			continue // inside a table already reported
		}
		if slices.Contains(configKeys, k[0]) && !undecoded[k.String()] {
			continue
		}
		reported[k[0]] = true
		msg := fmt.Sprintf("unknown key %q", k.String())
		fixed := strings.ReplaceAll(strings.ToLower(k[0]), "-", "_")
		if len(k) == 1 && fixed != k[0] && slices.Contains(configKeys, fixed) {
			msg += fmt.Sprintf(" (did you mean %q?)", fixed)
		}
		where := ""
		if line := configKeyLine(text, k); line > 0 {
			where = fmt.Sprintf(":%d", line)
		}
		out = append(out, where+": "+msg)
	}
	return out
}

// configKeyLine finds the line of text that defines key: a table's header,
// or a key's "name =" line (within its table, for a key of one). The toml
// package knows positions but does not tell them; 0 when not found.
func configKeyLine(text string, key toml.Key) int {
	lines := strings.Split(text, "\n")
	quoted := func(name string) string {
		return `(?:` + regexp.QuoteMeta(name) + `|"` + regexp.QuoteMeta(name) + `"|'` + regexp.QuoteMeta(name) + `')`
	}
	assign := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`^\s*` + quoted(name) + `\s*[=.]`)
	}
	header := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`^\s*\[\[?\s*` + quoted(name) + `\s*[\].]`)
	}
	from := 0
	if len(key) > 1 {
		for i, l := range lines {
			if header(key[0]).MatchString(l) {
				from = i + 1
				break
			}
		}
	}
	name := key[len(key)-1]
	for i := from; i < len(lines); i++ {
		if assign(name).MatchString(lines[i]) || (len(key) == 1 && header(name).MatchString(lines[i])) {
			return i + 1
		}
	}
	return 0
}

// configLineRE matches the errors the toml package makes while decoding into
// Go values; they carry the line in their text instead of a ParseError.
var configLineRE = regexp.MustCompile(`^toml: line (\d+) \(last key "((?:[^"\\]|\\.)*)"\): (.*)$`)

// configTOMLError rewrites a toml error as "FILE:LINE: KEY: MESSAGE".
func configTOMLError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		where := path
		if pe.Position.Line > 0 {
			where = fmt.Sprintf("%s:%d", path, pe.Position.Line)
		}
		msg := pe.Message
		if pe.Usage != "" {
			msg += "\n" + strings.TrimSpace(pe.Usage)
		}
		if pe.LastKey != "" {
			return fmt.Errorf("%s: %s: %s", where, pe.LastKey, msg)
		}
		return fmt.Errorf("%s: %s", where, msg)
	}
	if m := configLineRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s: %s", path, m[1], m[2], m[3])
	}
	return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "toml: "))
}

func configOneOf(key, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s: %q is not one of %s", key, v, strings.Join(allowed, ", "))
}

func configIsPercent(p float64) bool { return p >= 0 && p <= 100 }
