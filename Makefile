# Kanal's two commands: `make up` runs the whole system here, `make test` runs the test suite.
# Each creates or refreshes .venv and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= $(if $(wildcard kanal.toml),kanal.toml,kanal.example.toml)
PYTEST_ARGS ?=

.PHONY: up test lint typecheck bench system-deps clean help lock test-latest audit messages

help:
	@echo "make up      run embedded NATS, the router and the connectors in $(CONFIG)"
	@echo "make test    install everything the tests need and run them"
	@echo "make lint    ruff + mypy --strict"
	@echo "make bench   run the benchmarks in bench/ and print their figures"
	@echo "make lock    refresh requirements.lock and requirements-dev.lock from pyproject.toml"
	@echo "make audit   audit the locked dependencies against PyPI's published advisories"
	@echo "make test-latest  run the tests against the newest releases (not the lock): what would break"

# Everything is installed from the lock files (exact versions, hashes checked), the build backend included,
# so a new release of any dependency cannot change what `make up` and `make test` run.
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# requirements.lock: what runs (every channel) and the build backend, for the container and production installs;
# requirements-dev.lock: that plus the test and lint tools, constrained to the same versions.
LOCK_OPTS := --universal --python-version 3.11 --generate-hashes --quiet
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra channels --extra build $(LOCK_OPTS) --upgrade -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_OPTS) --upgrade -c requirements.lock -o requirements-dev.lock
	@echo "lock: refreshed; run make test, then commit requirements*.lock"

audit: $(STAMP)
	$(BIN)/python scripts/audit.py requirements.lock requirements-dev.lock

# The newest releases in a throwaway venv: tells what a `make lock` would break, without changing the lock.
test-latest: system-deps
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade pip
	.venv-latest/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	.venv-latest/bin/pip list --format=freeze > .venv-latest/versions.txt
	.venv-latest/bin/ruff check . && .venv-latest/bin/mypy && .venv-latest/bin/python -m pytest $(PYTEST_ARGS)

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
	$(BIN)/python bench/notifier.py
	$(BIN)/python bench/assembly.py
	$(BIN)/python bench/places.py --set build heldout heldout2 heldout3 heldout4 heldout5 heldout6 heldout7 \
		heldout8 heldout9 typos_dev
	$(BIN)/python bench/categories.py

clean:
	rm -rf $(VENV) .venv-latest var .pytest_cache .mypy_cache .ruff_cache

# The console's words: re-extract every marked string into admin/locale/messages.pot and merge new ones into
# the Indonesian catalogue (translate the empty msgstr lines; tests/admin/test_i18n.py fails until you do).
messages: $(STAMP)
	$(BIN)/pybabel extract -F admin/babel.cfg -k tr:2 -k Reason --no-location --sort-output -o admin/locale/messages.pot .
	$(BIN)/pybabel update -i admin/locale/messages.pot -d admin/locale -l id --no-fuzzy-matching --ignore-obsolete
