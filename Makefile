# covdist's build, test and benchmark entry points.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# An execution count, not a duration: a wall-clock -fuzztime races the fuzz
# coordinator's own deadline on a loaded machine and fails with a bare
# "context deadline exceeded" (golang/go#75804) although nothing was found.
FUZZTIME ?= 40000x
BIN := bin/covdist

.PHONY: build test unit fuzz lint bench update-golden demo demo-self deps clean

build:
	$(GO) build -o $(BIN) ./cmd/covdist

deps:
	./scripts/deps.sh

# The whole suite: dependencies, vet, unit and end-to-end tests, a short fuzz
# run of every parser, staticcheck.
test: deps lint unit fuzz

unit:
	$(GO) test -count=1 -timeout 20m ./...

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./coverage
	$(GO) test -run='^$$' -fuzz='^FuzzDeltaDecode$$' -fuzztime=$(FUZZTIME) ./coverage
	$(GO) test -run='^$$' -fuzz='^FuzzParseMeta$$' -fuzztime=$(FUZZTIME) ./coverage/covdata
	$(GO) test -run='^$$' -fuzz='^FuzzParseCounters$$' -fuzztime=$(FUZZTIME) ./coverage/covdata
	$(GO) test -run='^$$' -fuzz='^FuzzReadFrame$$' -fuzztime=$(FUZZTIME) ./distribute/wire
	$(GO) test -run='^$$' -fuzz='^FuzzManifest$$' -fuzztime=$(FUZZTIME) ./distribute/filesync
	$(GO) test -run='^$$' -fuzz='^FuzzParser$$' -fuzztime=$(FUZZTIME) ./distribute/testjson
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./distribute/xspec
	$(GO) test -run='^$$' -fuzz='^FuzzLoadConfig$$' -fuzztime=$(FUZZTIME) ./cmd/covdist

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Side-by-side benchmarks against go test, then remote workers against
# local ones and each mode against single-platform runs; prints ratios.
bench:
	$(GO) run ./bench
	$(GO) test -run='^$$' -bench='Remote|Each' -benchtime=1x ./cmd/covdist/

update-golden:
	$(GO) test ./... -run 'Golden|Report|E2E|Script' -update

# The README's first command: covdist on an example module with a crash and
# a failing test, in load mode and over every platform this machine runs
# (scripts/demo.sh; it builds covdist itself and exits 0 when covdist
# reported what it must).
demo:
	./scripts/demo.sh

# covdist measuring its own test suite (about ten minutes on 2 cores).
demo-self: build
	./$(BIN) -n auto --cov-report=term-missing ./...

clean:
	rm -rf bin
