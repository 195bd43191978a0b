# Gaia IAM. Every variable below can be overridden from the environment or
# the command line, e.g. `make run-postgres DB_NAME=gaia_dev IAM_HTTP_ADDR=127.0.0.1:9090`.

GO       ?= go
BIN      ?= bin/iam
PG_HOST  ?= 127.0.0.1
PG_PORT  ?= 5432
PG_USER  ?= postgres
DB_NAME  ?= gaia

# The database of `make run-postgres`.
PG_DATABASE_URL       ?= postgres://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$(DB_NAME)?sslmode=disable
# A server on which every test creates (and drops) its own database.
IAM_TEST_DATABASE_URL ?= postgres://$(PG_USER)@$(PG_HOST):$(PG_PORT)/postgres?sslmode=disable

export IAM_TEST_DATABASE_URL

.PHONY: all build run run-postgres deps node-deps test test-python test-node lint fuzz bench bench-python bench-node screenshots
all: build

# What `iam --version` prints.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -X github.com/gaia-platform/iam/internal/cli.version=$(VERSION) \
              -X github.com/gaia-platform/iam/internal/cli.commit=$(COMMIT) \
              -X github.com/gaia-platform/iam/internal/cli.buildDate=$(BUILD_DATE)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/iam

# Serves on IAM_HTTP_ADDR (default 127.0.0.1:8080) with no database to set
# up: the embedded SQLite database in IAM_DATA_DIR (default ./data), unless
# IAM_DATABASE_URL is set in the environment.
run:
	$(GO) run ./cmd/iam serve

# The same on the local PostgreSQL: creates the database $(DB_NAME) if it is
# missing, then serves on it.
run-postgres:
	@psql -h '$(PG_HOST)' -p '$(PG_PORT)' -U '$(PG_USER)' -d postgres -Atc \
		"SELECT 1 FROM pg_database WHERE datname = '$(DB_NAME)'" | grep -q 1 \
		|| createdb -h '$(PG_HOST)' -p '$(PG_PORT)' -U '$(PG_USER)' '$(DB_NAME)'
	IAM_DATABASE_URL='$(PG_DATABASE_URL)' $(GO) run ./cmd/iam serve

# The Debian packages the tests need (curl, jq, Debian's Python 3 and the
# Python client's dependencies, Chromium for the console's browser tests,
# kubectl for rendering deploy/kubernetes), installed when missing.
deps:
	@scripts/test-deps

# The Node client's and the Express example's dependencies, exactly as
# their package-lock.json pins them (the Go tests run the example).
node-deps:
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	cd examples/express-inventory && npm ci --no-audit --no-fund --loglevel=error

# Everything against PostgreSQL, then the end-to-end tests (CLI and HTTP)
# again on the embedded SQLite store (the README test runs on SQLite
# either way, once).
test: deps node-deps lint
	$(GO) test -race -count=1 ./...
	IAM_TEST_STORE=sqlite $(GO) test -race -count=1 ./internal/cli/ ./internal/httpapi/ ./internal/console/ ./cmd/example-inventory/
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-node
	$(MAKE) --no-print-directory fuzz

# The console's screenshots in docs/console, taken by its browser test
# against a real iam serve on PostgreSQL.
screenshots: deps
	GAIA_CONSOLE_SCREENSHOTS='$(CURDIR)/docs/console' $(GO) test -count=1 -run 'TestBrowser_AnOperator' ./internal/console/

# The Python client's own tests (clients/python) on Debian's Python, with a
# stock opa of the pinned version for its differential tests. (The Go
# tests above also run the Python examples and the cross-language parity
# test against a live IAM.)
PYTHON ?= /usr/bin/python3
test-python:
	$(GO) build -o bin/opa github.com/open-policy-agent/opa
	cd clients/python && GAIA_IAM_TEST_OPA='$(CURDIR)/bin/opa' $(PYTHON) -m pytest -q

# Each fuzz target explores FUZZ_RUNS inputs beyond its committed seeds
# (`go test` alone runs only the seeds): about ten seconds each on a
# 2-core machine. A count, not -fuzztime=10s: with a duration, go1.26's
# fuzz coordinator can fail at the deadline with a bare "context deadline
# exceeded" (golang/go#75804). The four HTTP targets share one
# instrumented test binary, built once. A failing input is written to the
# package's testdata/fuzz/<target>/, where it becomes a seed.
FUZZ_RUNS ?= 3000
FUZZ_BIN  := $(CURDIR)/bin/fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAuthorize_TokenString$$' -fuzztime $(FUZZ_RUNS)x ./sdk/
	$(GO) test -c -fuzz . -o $(FUZZ_BIN)/httpapi.test ./internal/httpapi/
	cd internal/httpapi && for target in FuzzLogin FuzzRefresh FuzzOAuthToken FuzzBearer; do \
		$(FUZZ_BIN)/httpapi.test -test.run '^$$' -test.fuzz "^$$target\$$" -test.fuzztime $(FUZZ_RUNS)x \
			-test.fuzzcachedir "$$($(GO) env GOCACHE)/fuzz/github.com/gaia-platform/iam/internal/httpapi" || exit 1; \
	done

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

# Speed and memory figures: every Go benchmark, with allocations, including
# the throughput benchmarks (internal/httpapi), which load a running server
# on the PostgreSQL of IAM_TEST_DATABASE_URL and fail without one. Each runs
# for at least BENCHTIME.
BENCHTIME ?= 3s
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(MAKE) --no-print-directory bench-python
	$(MAKE) --no-print-directory bench-node

# The Node client's own tests (node --test), its sidecar mode against the
# pinned stock opa.
test-node:
	$(GO) build -o bin/opa github.com/open-policy-agent/opa
	cd clients/node && GAIA_IAM_TEST_OPA='$(CURDIR)/bin/opa' npm test

# The Python client's decision latencies: cached, first-seen, and the same
# question asked of a local stock OPA over HTTP (the sidecar mode).
bench-python:
	$(GO) build -o bin/opa github.com/open-policy-agent/opa
	cd clients/python && GAIA_IAM_TEST_OPA='$(CURDIR)/bin/opa' $(PYTHON) bench.py

# The Node client's decision latencies, with the same stock-OPA comparison.
bench-node:
	$(GO) build -o bin/opa github.com/open-policy-agent/opa
	cd clients/node && GAIA_IAM_TEST_OPA='$(CURDIR)/bin/opa' node bench.mjs
