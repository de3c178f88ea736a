# Kanal's two commands: `make up` runs the whole system here, `make test` runs the test suite.
# Each creates or refreshes .venv and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= $(if $(wildcard kanal.toml),kanal.toml,kanal.example.toml)
PYTEST_ARGS ?=

.PHONY: up test lint typecheck bench system-deps clean help

help:
	@echo "make up      run embedded NATS, the router and the connectors in $(CONFIG)"
	@echo "make test    install everything the tests need and run them"
	@echo "make lint    ruff + mypy --strict"
	@echo "make bench   run the benchmarks in bench/ and print their figures"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/kanal up --config $(CONFIG)

system-deps:
	@bash scripts/system-deps.sh

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/router.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
