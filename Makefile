# moontide — common tasks. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go

# Variables that would point unit tests at servers; `make unit` clears them.
SERVER_VARS := MOONTIDE_SOURCE_DSN MOONTIDE_DEST_DSN MOONTIDE_MINIMAL_DSN MOONTIDE_REDIS_ADDR MOONTIDE_KAFKA_BROKERS MOONTIDE_ES_URL

.PHONY: test unit build demo up down status

## test: start both MariaDBs, Redis, Kafka, OpenSearch; vet; run every test with -race; stop the servers (also on failure)
test:
	dev/with-services.sh bash -c '$(GO) vet ./... && $(GO) test -race -count=1 ./...'

## unit: run the tests that need no server (integration tests skip)
unit:
	env $(addprefix -u ,$(SERVER_VARS)) CI= $(GO) test ./...

## build: build the moontide binary into bin/
build:
	$(GO) build -o bin/moontide ./cmd/moontide

## demo: start the servers and show what is there
demo:
	dev/demo.sh

## up, down, status: manage the dev servers by hand (see dev/README.md)
up:
	dev/services.sh up
down:
	dev/services.sh down
status:
	dev/services.sh status
