# EventLedger — every target CI runs is here. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The provisioning tool uses only the standard library, so it runs before (and without) the virtualenv.
INFRA := PYTHONPATH=infrastructure/src $(PYTHON) -m eventledger_infra
PACKAGES := events infrastructure infrastructure/runtime command-side query-side projections gateway
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest

.PHONY: help install up down servers status logs reset backup restore test test-unit test-contract test-integration test-e2e test-fault \
        test-tiers lint format bench clean image kcat

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(foreach p,$(PACKAGES),-e ./$(p)) -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv and install every part (editable) with the pinned dependencies

REPLICAS ?= 1
# TLS=1: HTTPS on the gateway port with a development certificate, made once under the state folder (ADR 0023).
TLS ?=
TLS_DIR ?= $(or $(EVENTLEDGER_STATE_DIR),$(CURDIR)/.state)/tls
# PROMETHEUS=1: Prometheus (Debian's package) scrapes every process and evaluates the alert rules (ADR 0026).
PROMETHEUS ?=
TLS_ENV := $(if $(TLS),EVENTLEDGER_GATEWAY_TLS_CERT_FILE=$(TLS_DIR)/server.pem \
                       EVENTLEDGER_GATEWAY_TLS_KEY_FILE=$(TLS_DIR)/server-key.pem)

# BACKUP=1: PostgreSQL archives its WAL and streams it synchronously to a receiver, so no acknowledged commit can be
# lost with its data directory (ADR 0033); kept for later starts of the same cluster.
BACKUP ?=

up: install ## the whole system: servers, REPLICAS (default 1) instances of each service behind HAProxy, demo data; TLS=1 for HTTPS, PROMETHEUS=1 for metrics and alerts, BACKUP=1 for continuous backup
	@$(INFRA) up $(if $(BACKUP),--backup)
	@$(if $(TLS),$(PY) -m eventledger_gateway dev-certificate --dir $(TLS_DIR))
	@$(TLS_ENV) $(PY) -m eventledger_infra system up --replicas $(REPLICAS) $(if $(PROMETHEUS),--prometheus)

down: ## stop the services and the servers this project started
	@if [ -x $(PY) ]; then $(PY) -m eventledger_infra system down; fi
	@$(INFRA) down

servers: ## only the five servers (PostgreSQL, Redis, Kafka, Elasticsearch, schema registry), as the tests need them; BACKUP=1 as for up
	@$(INFRA) up $(if $(BACKUP),--backup)

status: ## show which servers run, every service instance, and HAProxy's view of each
	@$(INFRA) status; if [ -x $(PY) ]; then $(PY) -m eventledger_infra system status; fi

image: ## build the services' image localhost/eventledger:<version> with buildah on a Debian base (ADR 0030)
	@$(INFRA) image

kcat: ## build kcat with Avro/Schema-Registry support from third_party/ (once per source tree) and print its path (ADR 0028)
	@$(INFRA) kcat --version

logs: ## tail the servers' logs
	@$(INFRA) logs

TIME ?= latest

backup: ## a base backup of PostgreSQL (needs BACKUP=1 at `make up`); see docs/operations.md
	@$(INFRA) backup

restore: ## restore PostgreSQL (stopped first) to TIME=<ISO 8601 with zone> or the latest commit; see docs/operations.md
	@$(INFRA) restore --to '$(TIME)'

reset: ## stop the servers and wipe their state (downloads stay cached)
	@$(INFRA) reset

test: install ## lint, then every test tier; starts the servers the tests need and stops the ones it started
	@$(MAKE) --no-print-directory lint
	@$(INFRA) browser
	@$(INFRA) run -- $(MAKE) --no-print-directory test-tiers

test-tiers:
	$(PYTEST) -q -p no:cacheprovider

test-unit: install ## unit tests only (no server)
	$(PYTEST) -m unit -q

test-contract: install ## contract suites against every backend (needs `make servers`)
	$(PYTEST) -m contract -q

test-integration: install ## integration tests against the real servers (needs `make servers`)
	$(PYTEST) -m integration -q

test-e2e: install ## end-to-end tests over HTTP (needs `make servers`)
	$(PYTEST) -m e2e -q

test-fault: install ## fault tests: SIGKILL and restarts under load (needs `make servers`)
	$(PYTEST) -m fault -q

lint: install ## what CI runs: ruff, mypy, import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install ## run the benchmarks (needs `make servers`); results go to docs/performance.md by hand
	@shopt -s nullglob; benches=(bench/bench_*.py); [ $${#benches[@]} -gt 0 ] || { echo "no benchmarks yet"; exit 0; }; \
	for b in "$${benches[@]}"; do m=$${b%.py}; echo "== $$m"; $(PY) -m $${m//\//.} || exit 1; done

clean: ## remove the virtualenv and caches (not the server state)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
