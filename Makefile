# Gaia IAM. Every variable below can be overridden from the environment or
# the command line, e.g. `make run DB_NAME=gaia_dev IAM_HTTP_ADDR=127.0.0.1:9090`.

GO       ?= go
BIN      ?= bin/iam
PG_HOST  ?= 127.0.0.1
PG_PORT  ?= 5432
PG_USER  ?= postgres
DB_NAME  ?= gaia

# The server's database. When you set IAM_DATABASE_URL yourself, `make run`
# uses it as is and creates nothing.
IAM_DATABASE_URL      ?= postgres://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$(DB_NAME)?sslmode=disable
# A server on which every test creates (and drops) its own database.
IAM_TEST_DATABASE_URL ?= postgres://$(PG_USER)@$(PG_HOST):$(PG_PORT)/postgres?sslmode=disable

export IAM_DATABASE_URL IAM_TEST_DATABASE_URL

.PHONY: all build run test lint bench
all: build

build:
	$(GO) build -o $(BIN) ./cmd/iam

# Creates the local database $(DB_NAME) if it is missing (only when
# IAM_DATABASE_URL is the default built from PG_* and DB_NAME), then serves
# on IAM_HTTP_ADDR (default 127.0.0.1:8080).
run:
ifeq ($(origin IAM_DATABASE_URL),file)
	@psql -h '$(PG_HOST)' -p '$(PG_PORT)' -U '$(PG_USER)' -d postgres -Atc \
		"SELECT 1 FROM pg_database WHERE datname = '$(DB_NAME)'" | grep -q 1 \
		|| createdb -h '$(PG_HOST)' -p '$(PG_PORT)' -U '$(PG_USER)' '$(DB_NAME)'
endif
	$(GO) run ./cmd/iam serve

test: lint
	$(GO) test -race -count=1 ./...

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

# Speed and memory figures: every Go benchmark, with allocations.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
