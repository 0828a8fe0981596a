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
	# The end-to-end suites again with every server on PostgreSQL: the
	# official clients, ChatJS, the golden files and every feature that
	# stores something. Tests of the transport, the browser UI, memory,
	# client limits, S3 and the Debian clients measure what the store does
	# not touch: once, on SQLite, is enough; the cluster suite runs on
	# PostgreSQL in the first pass.
	PARLEY_E2E_DATABASE=postgres $(GO) test -count=1 -timeout 8m -skip '$(PG_SKIP)' ./e2e

PG_SKIP := ^(TestBrowser.*|TestCluster.*|TestDrainOnSIGTERM|TestConcurrentLargeUploadsKeepMemoryFlat|TestSlowBodiesDoNotStarveTheServer|TestNoLeakOverManyConnections|TestStuckSocketDoesNotSlowOthers|TestChatJSIdleHeartbeats|TestAWSCLI|TestBoto3|TestAttachmentsInS3|TestAttachmentsDirectToS3|TestS3StartupChecks|TestWebUIReconnectIsSingleFlight|TestMetrics.*|TestFailedAuthenticationLinesAreRateLimited|TestClamdThatNeverAnswersDoesNotHoldStartup|TestScannerDownRejectsWithAGenericReason|TestParticipantRateLimits|TestClientRateBehindTrustedProxy|TestTokensAreCheckedBeforeTheBody|TestStalledUploadIsCutAndItsRetrySucceeds|TestUploadRetryTakesOverAStalledOne|TestGoClientRetriesThrottling|TestJSThrottling|TestThrottleConnect|TestWidgetBehindTrustedProxy|TestWidgetOriginIgnoresHost|TestServeSaysWhereTheCredentialsAre|TestTextFilesAreServedAsText|TestBidiControlsLeaveFileNames|TestAwkwardFileNames)$$

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
## micro-benchmarks of the hot paths. The PostgreSQL and cluster figures
## run on a private PostgreSQL (Debian's postgresql) and nats-server that
## the bench starts; without Debian's nats-server, one is built from
## go.mod's nats-server/v2 (kept out of the parley binary).
NATS_SERVER ?= $(firstword $(wildcard /usr/sbin/nats-server /usr/bin/nats-server) $(shell command -v nats-server))

bench: build
ifeq ($(NATS_SERVER),)
	$(GO) build -o .bench/nats-server github.com/nats-io/nats-server/v2
	PARLEY_NATS_SERVER=.bench/nats-server ./parley bench
else
	PARLEY_NATS_SERVER=$(NATS_SERVER) ./parley bench
endif
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

## run: start a local server with data in ./parley-data.
run:
	$(GO) run ./cmd/parley serve

build:
	$(GO) build -o parley ./cmd/parley
