# agentbar: `make test` is the one command CI runs; it installs what it needs.
GO        ?= go
WASM_PKGS := ./sip/... ./wasm/...
WASM_ENV  := GOOS=js GOARCH=wasm PATH="$(PATH):$(shell $(GO) env GOROOT)/lib/wasm"
FUZZTIME  ?= 20s

.PHONY: all test setup vet unit wasm wasm-check wasm-test bench fuzz run

all: test

## test: everything: set-up, vet, unit and interop tests with -race, the js/wasm build and wasm tests
test: setup vet wasm unit wasm-check wasm-test

## setup: install missing system packages (Kamailio, SIPp, Chromium, Node.js)
setup:
	@scripts/setup.sh

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(WASM_PKGS)

## unit: unit and interop tests (Kamailio and SIPp are started by the tests)
unit:
	$(GO) test -race -count=1 ./...

## wasm: build the agent bar into web/dist (git-ignored), which the server serves at /:
## bar.<hash>.wasm with .gz and .br beside it, wasm_exec.<hash>.js, index.html, manifest.json
## The build is reproducible: no paths (-trimpath), no VCS stamp, no build
## ID, no symbols; GOFLAGS and GOWASM from the environment are ignored, so
## the same sources and Go release give the same bytes (and the same hash).
## Inlining is off (-l) in the standard packages the bar runs rarely (crypto
## at start-up and for digest auth, fmt, encoding, log/slog, mime, math/big,
## vendor): their code then compresses better, about 60 kB less brotli.
## The build fails if the brotli copy exceeds WASM_MAX_BR bytes (0: no limit).
WASM_MAX_BR  ?= 1600000
WASM_GCFLAGS := -gcflags=crypto/...=-l -gcflags=vendor/...=-l -gcflags=math/big=-l \
	-gcflags=encoding/...=-l -gcflags=fmt=-l -gcflags=log/...=-l -gcflags=mime/...=-l
wasm:
	@mkdir -p web/dist
	GOOS=js GOARCH=wasm GOWASM= GOFLAGS= $(GO) build -trimpath -buildvcs=false $(WASM_GCFLAGS) \
		-ldflags="-s -w -buildid=" -o web/dist/.bar.wasm.build ./wasm/cmd/bar
	$(GO) run ./wasm/internal/distbuild -in web/dist/.bar.wasm.build -dist web/dist -max-br $(WASM_MAX_BR) \
		-page web/static/index.html -wasm-exec "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js"

## wasm-check: build every package that runs in the browser
wasm-check:
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS)

## wasm-test: the browser-independent tests of those packages, under Node
wasm-test:
	$(WASM_ENV) $(GO) test -count=1 $(WASM_PKGS)

## bench: benchmarks with their figures (several minutes; SIPp and Chromium as for test)
bench: wasm
	$(GO) test -run='^$$' -bench=. -benchmem ./sip/... ./proxy/... ./server/media/
	$(GO) test -run='^$$' -bench='^Benchmark(IdleSessionMemory|EventRelay|Registrar|TrunkCallSetup)$$' -benchtime=1x ./server/
	$(GO) test -run='^$$' -bench='^Benchmark(BrowserRegister|GoWasmFloor)$$' -benchtime=5x ./web/e2e/

## fuzz: a short run of each fuzz target (FUZZTIME=5m for longer)
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzReceive -fuzztime=$(FUZZTIME) ./sip/
	$(GO) test -run='^$$' -fuzz=FuzzParseChallenge -fuzztime=$(FUZZTIME) ./sip/digest/
	$(GO) test -run='^$$' -fuzz=FuzzParseCredentials -fuzztime=$(FUZZTIME) ./sip/digest/

## run: the agentbar server with the sample config (built-in call center on loopback)
run: wasm
	$(GO) run ./server/cmd/agentbar -config agentbar.yaml
