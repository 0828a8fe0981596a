# Parley's developer commands. `make test` and then `make race` are what CI
# runs (through .ci/run).

GO        ?= go
NPM       ?= npm
JS_DIR    := e2e/js

.PHONY: test test-go race js-deps bench run fuzz build

## test: install the npm clients the e2e tests drive, then run every test.
test: js-deps test-go

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...
	# The end-to-end suites again with every server on PostgreSQL (the
	# browser and upload-memory tests measure the widget and the uploads, not the
	# store: once is enough).
	PARLEY_E2E_DATABASE=postgres $(GO) test -count=1 -timeout 8m -skip '^(TestBrowser|TestBrowserProduct|TestConcurrentLargeUploadsKeepMemoryFlat)$$' ./e2e

## race: every test again under the race detector (about 8 minutes on 2
## busy cores; memory thresholds in the tests allow for the detector).
race: js-deps
	$(GO) test -race -count=1 -timeout 20m ./...

## js-deps: the official JS clients, exactly as locked in e2e/js/package-lock.json.
js-deps: $(JS_DIR)/node_modules/.package-lock.json

$(JS_DIR)/node_modules/.package-lock.json: $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && $(NPM) ci --no-audit --no-fund --loglevel=error

## fuzz: run each fuzz target for a short while (FUZZTIME=30s for longer).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## bench: Parley against baselines measured in the same run (a Parley
## server and a baseline server, each its own process), then the
## micro-benchmarks of the hot paths.
bench: build
	./parley bench
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

## run: start a local server with data in ./parley-data.
run:
	$(GO) run ./cmd/parley serve

build:
	$(GO) build -o parley ./cmd/parley
