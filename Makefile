# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MIGTOOL := $(VENV)/bin/migtool
# What the demo and the Makefile shortcuts act on (override: make status COMPOSE_FILE=...)
COMPOSE_FILE ?= deploy/docker-compose.yml

.PHONY: help install host-tools bootstrap test test-unit test-integration test-e2e lint demo \
        deploy-migrate backup restore status bench clean

help:
	@echo "make demo            bootstrap docker + images, run the example's migrations, show status"
	@echo "make test            install everything and run the whole test suite"
	@echo "make install         virtualenv + editable install (with dev extras)"
	@echo "make lint            ruff"
	@echo "make deploy-migrate  lint, back up if needed, lock, run the migrate service, verify (ARGS=--yes)"
	@echo "make backup          migtool backup --reason manual"
	@echo "make restore BACKUP=backups/NAME  emergency restore"
	@echo "make status          migtool status"
	@echo "make bench           benchmarks (lint vs squawk, backup vs pg_dump|gzip, backfill vs UPDATE)"
	@echo "make clean           remove the virtualenv and caches"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# PostgreSQL server binaries, zstd and pigz on the host (tests start a real cluster).
host-tools:
	scripts/dev/host-tools

# Docker engine, compose v2 and the locally built images.
bootstrap:
	scripts/dev/bootstrap

test: install host-tools bootstrap
	$(PY) -m pytest tests

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install host-tools
	$(PY) -m pytest tests/unit tests/integration

test-e2e: install host-tools bootstrap
	$(PY) -m pytest tests/e2e

lint: install
	$(VENV)/bin/ruff check migtool tests bench

demo: install host-tools bootstrap
	scripts/dev/demo

# Asks before applying at a terminal; pass flags with ARGS, e.g. make deploy-migrate ARGS="--yes --dry-run"
deploy-migrate: install
	$(MIGTOOL) deploy-migrate $(ARGS)

backup: install
	$(MIGTOOL) backup --reason manual

# The emergency script (no Python, no migtool.yaml): verifies, then restores beside and swaps (-c).
RESTORE_ARGS ?= -c
restore:
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/NAME [RESTORE_ARGS='-c --yes']" >&2; exit 2; }
	scripts/restore/postgres-restore.sh --compose-file $(COMPOSE_FILE) $(BACKUP) $(RESTORE_ARGS)

status: install
	$(MIGTOOL) status

bench: install host-tools
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/lint_bench.py
	$(PY) bench/backup_bench.py
	$(PY) bench/restore_bench.py
	$(PY) bench/backfill_bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
