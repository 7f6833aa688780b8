# agentbar: `make test` is the one command CI runs; it installs what it needs.
GO        ?= go
WASM_PKGS := ./sip/...
WASM_ENV  := GOOS=js GOARCH=wasm PATH="$(PATH):$(shell $(GO) env GOROOT)/lib/wasm"
FUZZTIME  ?= 20s

.PHONY: all test setup vet unit wasm-check wasm-test bench fuzz run

all: test

## test: everything: set-up, vet, unit and interop tests with -race, the js/wasm build and wasm tests
test: setup vet unit wasm-check wasm-test

## setup: install missing system packages (Kamailio, SIPp, Node.js)
setup:
	@scripts/setup.sh

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(WASM_PKGS)

## unit: unit and interop tests (Kamailio and SIPp are started by the tests)
unit:
	$(GO) test -race -count=1 ./...

## wasm-check: build every package that runs in the browser
wasm-check:
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS)

## wasm-test: the browser-independent tests of those packages, under Node
wasm-test:
	$(WASM_ENV) $(GO) test -count=1 $(WASM_PKGS)

## bench: benchmarks with allocation figures
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./sip/...

## fuzz: a short run of each fuzz target (FUZZTIME=5m for longer)
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzReceive -fuzztime=$(FUZZTIME) ./sip/
	$(GO) test -run='^$$' -fuzz=FuzzParseChallenge -fuzztime=$(FUZZTIME) ./sip/digest/
	$(GO) test -run='^$$' -fuzz=FuzzParseCredentials -fuzztime=$(FUZZTIME) ./sip/digest/

## run: the agentbar server with the sample config (built-in call center on loopback)
run:
	$(GO) run ./server/cmd/agentbar -config agentbar.yaml
