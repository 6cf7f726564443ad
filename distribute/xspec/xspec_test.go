package xspec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      Spec // Raw is filled in from in
		canonical string
	}{
		{"popen", "popen", Spec{Count: 1, Type: "popen"}, "popen"},
		{"count", "4*popen", Spec{Count: 4, Type: "popen"}, "4*popen"},
		{"count one", "1*popen", Spec{Count: 1, Type: "popen"}, "popen"},
		{"count leading zero", "02*popen", Spec{Count: 2, Type: "popen"}, "2*popen"},
		{"max count", "1024*popen", Spec{Count: 1024, Type: "popen"}, "1024*popen"},
		{"ssh host", "ssh=build1", Spec{Count: 1, Type: "ssh", Host: "build1"}, "ssh=build1"},
		{"ssh user host port", "ssh=ci@build1.example.com:2222",
			Spec{Count: 1, Type: "ssh", User: "ci", Host: "build1.example.com", Port: 2222}, "ssh=ci@build1.example.com:2222"},
		{"ssh ipv6", "ssh=[::1]:2222", Spec{Count: 1, Type: "ssh", Host: "::1", Port: 2222}, "ssh=[::1]:2222"},
		{"ssh ipv6 no port", "ssh=u@[fe80::1%eth0]", Spec{Count: 1, Type: "ssh", User: "u", Host: "fe80::1%eth0"}, "ssh=u@[fe80::1%eth0]"},
		{"ssh bracketed name", "ssh=[build1]:22", Spec{Count: 1, Type: "ssh", Host: "build1", Port: 22}, "ssh=build1:22"},
		{"ssh ssh_config", "ssh=b//ssh_config=~/.ssh/ci_config",
			Spec{Count: 1, Type: "ssh", Host: "b", SSHConfig: "~/.ssh/ci_config"}, "ssh=b//ssh_config=~/.ssh/ci_config"},
		{"socket", "socket=127.0.0.1:8888", Spec{Count: 1, Type: "socket", Host: "127.0.0.1", Port: 8888}, "socket=127.0.0.1:8888"},
		{"socket ipv6", "socket=[::1]:8888", Spec{Count: 1, Type: "socket", Host: "::1", Port: 8888}, "socket=[::1]:8888"},
		{"pipe with spaces and =", "pipe=kubectl exec -i pod --env=X=1 -- covdist agent",
			Spec{Count: 1, Type: "pipe", Command: "kubectl exec -i pod --env=X=1 -- covdist agent"},
			"pipe=kubectl exec -i pod --env=X=1 -- covdist agent"},
		{"pipe ends at key", "2*pipe=docker exec -i c covdist agent//id=d//goos=linux",
			Spec{Count: 2, Type: "pipe", Command: "docker exec -i c covdist agent", ID: "d", GOOS: "linux"},
			"2*pipe=docker exec -i c covdist agent//id=d//goos=linux"},
		{"pipe keeps // not before a key", "pipe=docker -H tcp://build:2375 exec -i c a//id=d",
			Spec{Count: 1, Type: "pipe", Command: "docker -H tcp://build:2375 exec -i c a", ID: "d"},
			"pipe=docker -H tcp://build:2375 exec -i c a//id=d"},
		{"pipe keeps trailing //", "pipe=cat //", Spec{Count: 1, Type: "pipe", Command: "cat //"}, "pipe=cat //"},
		{"pipe keeps star", "pipe=sh -c 'ls *'", Spec{Count: 1, Type: "pipe", Command: "sh -c 'ls *'"}, "pipe=sh -c 'ls *'"},
		{"value ending in slash", "popen//chdir=/srv///id=a",
			Spec{Count: 1, Type: "popen", Chdir: "/srv/", ID: "a"}, "popen//id=a//chdir=/srv/"},
		{"value with inner //", "popen//chdir=/srv//ci", Spec{Count: 1, Type: "popen", Chdir: "/srv//ci"}, "popen//chdir=/srv//ci"},
		{"all keys reordered", "3*ssh=u@h:22//ssh_config=x//nice=-5//env:B=2//exec=qemu-aarch64 -L /usr//tags=a,b.c//goarch=arm64//goos=linux//go=go1.24.0//chdir=/tmp//via=p//id=w//env:A=",
			Spec{Count: 3, Type: "ssh", User: "u", Host: "h", Port: 22, ID: "w", Via: "p", Chdir: "/tmp", Go: "go1.24.0", GOOS: "linux", GOARCH: "arm64",
				Tags: []string{"a", "b.c"}, Exec: "qemu-aarch64 -L /usr", Env: []string{"B=2", "A="}, Nice: -5, HasNice: true, SSHConfig: "x"},
			"3*ssh=u@h:22//id=w//via=p//chdir=/tmp//go=go1.24.0//goos=linux//goarch=arm64//tags=a,b.c//exec=qemu-aarch64 -L /usr//env:B=2//env:A=//nice=-5//ssh_config=x"},
		{"env value with = and //", "popen//env:URL=http://x/?a=b", Spec{Count: 1, Type: "popen", Env: []string{"URL=http://x/?a=b"}}, "popen//env:URL=http://x/?a=b"},
		{"nice zero", "popen//nice=0", Spec{Count: 1, Type: "popen", HasNice: true}, "popen//nice=0"},
		{"nice plus", "popen//nice=+19", Spec{Count: 1, Type: "popen", Nice: 19, HasNice: true}, "popen//nice=19"},
		{"go release", "popen//go=go1.24", Spec{Count: 1, Type: "popen", Go: "go1.24"}, "popen//go=go1.24"},
		{"go rc", "popen//go=go1.25rc1", Spec{Count: 1, Type: "popen", Go: "go1.25rc1"}, "popen//go=go1.25rc1"},
		{"go beta", "popen//go=go1.25beta2", Spec{Count: 1, Type: "popen", Go: "go1.25beta2"}, "popen//go=go1.25beta2"},
		{"go path", "popen//go=/opt/go/bin/go", Spec{Count: 1, Type: "popen", Go: "/opt/go/bin/go"}, "popen//go=/opt/go/bin/go"},
		{"go windows path", `popen//go=C:\go\bin\go.exe`, Spec{Count: 1, Type: "popen", Go: `C:\go\bin\go.exe`}, `popen//go=C:\go\bin\go.exe`},
		{"goos alone", "popen//goos=plan9", Spec{Count: 1, Type: "popen", GOOS: "plan9"}, "popen//goos=plan9"},
		{"goarch alone", "popen//goarch=wasm", Spec{Count: 1, Type: "popen", GOARCH: "wasm"}, "popen//goarch=wasm"},
		{"via", "ssh=h//via=gw", Spec{Count: 1, Type: "ssh", Host: "h", Via: "gw"}, "ssh=h//via=gw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.want
			want.Raw = tt.in
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q)\ngot  %#v\nwant %#v", tt.in, got, want)
			}
			if s := got.String(); s != tt.canonical {
				t.Errorf("String() got %q; want %q", s, tt.canonical)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(String()) = %v", err)
			}
			again.Raw = got.Raw
			if !reflect.DeepEqual(again, got) {
				t.Errorf("round trip\ngot  %#v\nwant %#v", again, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
		want string // the whole message
	}{
		{"empty", "", "type", `xspec "": empty type: want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND`},
		{"empty type after count", "3*//id=a", "type", `xspec "3*//id=a": empty type: want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND`},
		{"missing type", "=x", "type", `xspec "=x": missing type before "=x"`},
		{"unknown type", "docker=c", "type", `xspec "docker=c": unknown type "docker": want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND`},
		{"key without value", "popen//id", "type", `xspec "popen//id": unknown type "popen//id": want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND (a key is written //key=value)`},
		{"zero count", "0*popen", "count", `xspec "0*popen": bad count "0": want a positive number, as in 4*popen`},
		{"word count", "x*popen", "count", `xspec "x*popen": bad count "x": want a positive number, as in 4*popen`},
		{"negative count", "-1*popen", "count", `xspec "-1*popen": bad count "-1": want a positive number, as in 4*popen`},
		{"empty count", "*popen", "count", `xspec "*popen": bad count "": want a positive number, as in 4*popen`},
		{"huge count", "1025*popen", "count", `xspec "1025*popen": count 1025 is more than 1024, the most workers covdist starts: ask for fewer`},
		{"overflow count", "99999999999999999999*popen", "count", `xspec "99999999999999999999*popen": count 99999999999999999999 is more than 1024, the most workers covdist starts: ask for fewer`},
		{"popen value", "popen=x", "popen", `xspec "popen=x": popen takes no value, got "x"`},
		{"ssh no host", "ssh", "ssh", `xspec "ssh": ssh needs a host: ssh=[user@]host[:port]`},
		{"ssh empty host", "ssh=", "ssh", `xspec "ssh=": ssh needs a host: ssh=[user@]host[:port]`},
		{"ssh user only", "ssh=u@", "ssh", `xspec "ssh=u@": ssh is missing the host in ""`},
		{"ssh port only", "ssh=:22", "ssh", `xspec "ssh=:22": ssh is missing the host in ":22"`},
		{"ssh empty user", "ssh=@h", "ssh", `xspec "ssh=@h": ssh has a bad user ""`},
		{"ssh two ats", "ssh=a@b@h", "ssh", `xspec "ssh=a@b@h": ssh has a bad user "a@b"`},
		{"ssh bad port", "ssh=h:x", "ssh", `xspec "ssh=h:x": ssh has a bad port "x": want 1 to 65535`},
		{"ssh port zero", "ssh=h:0", "ssh", `xspec "ssh=h:0": ssh has a bad port "0": want 1 to 65535`},
		{"ssh port too big", "ssh=h:65536", "ssh", `xspec "ssh=h:65536": ssh has a bad port "65536": want 1 to 65535`},
		{"ssh signed port", "ssh=h:+22", "ssh", `xspec "ssh=h:+22": ssh has a bad port "+22": want 1 to 65535`},
		{"ssh empty port", "ssh=h:", "ssh", `xspec "ssh=h:": ssh has a bad port "": want 1 to 65535`},
		{"ssh bare ipv6", "ssh=::1", "ssh", `xspec "ssh=::1": ssh host "::1" needs brackets around an IPv6 address, as in [::1]:22`},
		{"ssh open bracket", "ssh=[::1", "ssh", `xspec "ssh=[::1": ssh host "[::1" lacks a closing ']'`},
		{"ssh junk after bracket", "ssh=[::1]22", "ssh", `xspec "ssh=[::1]22": ssh has "22" after the bracketed host; want [host]:port`},
		{"ssh empty brackets", "ssh=[]:22", "ssh", `xspec "ssh=[]:22": ssh has a bad host ""`},
		{"ssh host with space", "ssh=a b", "ssh", `xspec "ssh=a b": ssh has a bad host "a b"`},
		{"socket no port", "socket=h", "socket", `xspec "socket=h": socket needs a port: socket=host:port`},
		{"socket no host", "socket", "socket", `xspec "socket": socket needs a host and port: socket=host:port`},
		{"socket missing host", "socket=:8888", "socket", `xspec "socket=:8888": socket is missing the host in ":8888"`},
		{"socket bad port", "socket=h:port", "socket", `xspec "socket=h:port": socket has a bad port "port": want 1 to 65535`},
		{"pipe empty", "pipe=", "pipe", `xspec "pipe=": pipe needs a command: pipe=COMMAND`},
		{"pipe blank", "pipe=  ", "pipe", `xspec "pipe=  ": pipe needs a command: pipe=COMMAND`},
		{"pipe literal //key=", "pipe=sh -c 'echo //x=1'", "x", `xspec "pipe=sh -c 'echo //x=1'": unknown key "x"`},
		{"unknown key", "popen//foo=1", "foo", `xspec "popen//foo=1": unknown key "foo"`},
		{"uppercase key", "popen//GOOS=linux", "GOOS", `xspec "popen//GOOS=linux": unknown key "GOOS" (keys are lowercase: "goos")`},
		{"duplicate key", "2*popen//goos=linux//goos=darwin", "goos", `xspec "2*popen//goos=linux//goos=darwin": duplicate key "goos"`},
		{"duplicate env", "popen//env:A=1//env:A=2", "env:A", `xspec "popen//env:A=1//env:A=2": duplicate key "env:A"`},
		{"empty value", "popen//id=", "id", `xspec "popen//id=": key "id" needs a value`},
		{"bad id", "popen//id=a b", "id", `xspec "popen//id=a b": bad id "a b": use letters, digits, '.', '_' and '-'`},
		{"bad id glued key", "popen//id=a//chdir", "id", `xspec "popen//id=a//chdir": bad id "a//chdir": use letters, digits, '.', '_' and '-'`},
		{"bad via", "popen//via=-x", "via", `xspec "popen//via=-x": bad via "-x": use letters, digits, '.', '_' and '-'`},
		{"bad go", "popen//go=1.24", "go", `xspec "popen//go=1.24": bad go "1.24": want a release such as go1.24.0 or a path to a go binary`},
		{"bad go rc", "popen//go=go1.25rc", "go", `xspec "popen//go=go1.25rc": bad go "go1.25rc": want a release such as go1.24.0 or a path to a go binary`},
		{"bad go two", "popen//go=go2.0", "go", `xspec "popen//go=go2.0": bad go "go2.0": want a release such as go1.24.0 or a path to a go binary`},
		{"bad goos", "popen//goos=linx", "goos", `xspec "popen//goos=linx": unknown goos "linx" (see go tool dist list)`},
		{"bad goarch", "popen//goarch=x86", "goarch", `xspec "popen//goarch=x86": unknown goarch "x86" (see go tool dist list)`},
		{"bad pair", "popen//goos=windows//goarch=mips", "goarch", `xspec "popen//goos=windows//goarch=mips": goos=windows does not support goarch=mips (see go tool dist list)`},
		{"empty tag", "popen//tags=a,,b", "tags", `xspec "popen//tags=a,,b": bad tags "a,,b": want comma-separated build tags such as integration,netgo`},
		{"tag with space", "popen//tags=a b", "tags", `xspec "popen//tags=a b": bad tags "a b": want comma-separated build tags such as integration,netgo`},
		{"bad env name", "popen//env:1A=x", "env:1A", `xspec "popen//env:1A=x": key "env:1A" has a bad variable name "1A"`},
		{"empty env name", "popen//env:=x", "env:", `xspec "popen//env:=x": key "env:" has a bad variable name ""`},
		{"env name with dash", "popen//env:A-B=x", "env:A-B", `xspec "popen//env:A-B=x": key "env:A-B" has a bad variable name "A-B"`},
		{"nice word", "popen//nice=low", "nice", `xspec "popen//nice=low": bad nice "low": want an integer from -20 to 19`},
		{"nice too high", "popen//nice=20", "nice", `xspec "popen//nice=20": bad nice "20": want an integer from -20 to 19`},
		{"nice too low", "popen//nice=-21", "nice", `xspec "popen//nice=-21": bad nice "-21": want an integer from -20 to 19`},
		{"ssh_config on popen", "popen//ssh_config=f", "ssh_config", `xspec "popen//ssh_config=f": key "ssh_config" applies only to ssh and socket specs, not popen`},
		{"chdir on socket", "socket=h:1//chdir=/tmp", "chdir", `xspec "socket=h:1//chdir=/tmp": key "chdir" does not apply to socket specs: a covdist serve gives each session a workspace of its own (under its --workdir); leave chdir= out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v; want an error", tt.in, got)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("got %T; want *Error", err)
			}
			if xe.Key != tt.key || xe.Spec != tt.in {
				t.Errorf("got Key %q Spec %q; want Key %q Spec %q", xe.Key, xe.Spec, tt.key, tt.in)
			}
		})
	}
}

func TestPlatforms(t *testing.T) {
	// Every GOOS and GOARCH in the table parses, and pairs are checked.
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		if _, err := Parse("popen//goos=" + goos + "//goarch=" + goarch); err != nil {
			t.Errorf("got %v; want %s accepted", err, p)
		}
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // String() of each copy
		ids  []string
	}{
		{"one", "popen//id=w", []string{"popen//id=w"}, []string{"w"}},
		{"unnamed", "2*popen", []string{"popen", "popen"}, []string{"", ""}},
		{"named", "3*ssh=h//id=w//env:A=1", []string{"ssh=h//id=w-1//env:A=1", "ssh=h//id=w-2//env:A=1", "ssh=h//id=w-3//env:A=1"},
			[]string{"w-1", "w-2", "w-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Expand()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d copies; want %d", len(got), len(tt.want))
			}
			for i, c := range got {
				if c.String() != tt.want[i] || c.ID != tt.ids[i] || c.Count != 1 || c.Raw != tt.in {
					t.Errorf("copy %d: got %q (id %q, count %d, raw %q); want %q (id %q, count 1, raw %q)",
						i, c.String(), c.ID, c.Count, c.Raw, tt.want[i], tt.ids[i], tt.in)
				}
			}
			if len(got) > 1 && len(got[0].Env) > 0 {
				got[0].Env[0] = "CHANGED=1"
				if got[1].Env[0] == "CHANGED=1" || s.Env[0] == "CHANGED=1" {
					t.Errorf("copies share their Env slice")
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		tx   []string
		px   []string
		want string // "" for no error
	}{
		{"empty", nil, nil, ""},
		{"plain", []string{"4*popen", "ssh=h//id=a"}, nil, ""},
		{"via proxy", []string{"popen//via=gw", "2*ssh=inner//via=gw//id=in"}, []string{"ssh=bastion//id=gw"}, ""},
		{"proxy with chdir and ssh_config", []string{"popen//via=gw"}, []string{"ssh=b//id=gw//chdir=/tmp//ssh_config=f"}, ""},
		{"via unknown", []string{"popen//via=gw"}, []string{"ssh=b//id=other"},
			`xspec "popen//via=gw": via "gw" names no --px spec (px ids: other)`},
		{"via without px", []string{"popen//via=gw"}, nil,
			`xspec "popen//via=gw": via "gw" names no --px spec (there are none)`},
		{"via a tx id", []string{"popen//id=gw", "popen//via=gw"}, nil,
			`xspec "popen//via=gw": via "gw" names no --px spec (there are none)`},
		{"px without id", nil, []string{"ssh=b"},
			`xspec "ssh=b": a --px spec needs an id: add //id=NAME and use //via=NAME in --tx`},
		{"px with count", nil, []string{"2*ssh=b//id=gw"},
			`xspec "2*ssh=b//id=gw": a --px spec cannot have a count (2*): a proxy runs no tests`},
		{"px with via", nil, []string{"ssh=a//id=a", "ssh=b//id=b//via=a"},
			`xspec "ssh=b//id=b//via=a": a --px spec cannot have a via: proxies do not chain`},
		{"px with test keys", nil, []string{"ssh=b//id=gw//goos=linux//env:A=1"},
			`xspec "ssh=b//id=gw//goos=linux//env:A=1": a --px spec cannot have key "goos": a proxy runs no tests; put it on the --tx spec` + "\n" +
				`xspec "ssh=b//id=gw//goos=linux//env:A=1": a --px spec cannot have key "env": a proxy runs no tests; put it on the --tx spec`},
		{"duplicate tx ids", []string{"popen//id=a", "ssh=h//id=a"}, nil,
			`xspec "ssh=h//id=a": id "a" is already used by "popen//id=a"`},
		{"duplicate across tx and px", []string{"popen//id=gw"}, []string{"ssh=b//id=gw"},
			`xspec "popen//id=gw": id "gw" is already used by "ssh=b//id=gw"`},
		{"duplicate after expand", []string{"2*popen//id=w", "popen//id=w-2"}, nil,
			`xspec "popen//id=w-2": id "w-2" is already used by "2*popen//id=w"`},
		{"expanded ids are distinct", []string{"3*popen//id=w", "popen//id=w"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, px := mustParse(t, tt.tx), mustParse(t, tt.px)
			err := Validate(tx, px)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateNamesBuiltSpecs(t *testing.T) {
	// A Spec built in code has no Raw; errors then quote its String.
	err := Validate([]Spec{{Count: 1, Type: "popen", Via: "x"}}, nil)
	want := `xspec "popen//via=x": via "x" names no --px spec (there are none)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v; want %s", err, want)
	}
}

func mustParse(t *testing.T, in []string) []Spec {
	t.Helper()
	var out []Spec
	for _, s := range in {
		sp, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sp)
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"popen", "4*popen", "ssh=u@h:22//id=a", "ssh=[::1]:2222", "socket=h:8888",
		"pipe=docker -H tcp://h:2375 exec -i c//id=d", "popen//chdir=/a///id=b",
		"popen//env:A=1//env:B=x=y//nice=-3//tags=a,b//goos=linux//goarch=arm64//go=go1.24.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) || xe.Spec != s || !strings.HasPrefix(err.Error(), "xspec ") {
				t.Fatalf("Parse(%q): error %v does not name the spec", s, err)
			}
			return
		}
		canon := sp.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but Parse(String() = %q): %v", s, canon, err)
		}
		again.Raw = sp.Raw
		if !reflect.DeepEqual(again, sp) {
			t.Fatalf("round trip of %q via %q\ngot  %#v\nwant %#v", s, canon, again, sp)
		}
		if again.String() != canon {
			t.Fatalf("String not stable: %q then %q", canon, again.String())
		}
	})
}
