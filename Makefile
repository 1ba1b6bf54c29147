# The two commands a newcomer needs (README.md): `make demo` and `make test`.
# Every install step lives here so that a fresh machine (and CI) needs nothing done by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_DIR ?= var/demo
export RXWATCH_DATA_DIR ?= $(CURDIR)/var
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_UPDATED := var/.apt-updated

.PHONY: demo test test-all install install-dev system-deps pdf-deps frontend lint bench clean help

help:
	@echo "make demo   install, build the synthetic demo, run the weekly search and serve the app on \$$PORT ($(PORT))"
	@echo "make test   install dev dependencies (Python, Debian, npm) and run the whole test suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian packages the tests need: Java 17 for PySpark, chromium for the browser tests, poppler for
# pdftotext, the Pango libraries WeasyPrint renders PDFs with, and PostgreSQL's server programs (the
# PostgreSQL test starts a throwaway server of its own). Installed only where missing.
system-deps:
	@need=(); \
	command -v java >/dev/null || need+=(openjdk-17-jre-headless); \
	command -v chromium >/dev/null || need+=(chromium); \
	command -v pdftotext >/dev/null || need+=(poppler-utils); \
	ldconfig -p | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0); \
	command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql); \
	if [ $${#need[@]} -gt 0 ]; then \
	  echo "installing Debian packages: $${need[*]}"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends "$${need[@]}"; \
	fi

# What the app itself needs from Debian: the Pango libraries WeasyPrint renders the PDF reports with.
pdf-deps:
	@if ! ldconfig -p | grep -q libpango-1.0; then \
	  echo "installing Debian packages: libpango-1.0-0 libpangoft2-1.0-0"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0; \
	fi

# Front-end assets (nhsuk-frontend, htmx) come from the npm registry, pinned by package-lock.json.
frontend:
	@if [ -f package-lock.json ]; then \
	  [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; \
	fi

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

# The default run leaves out tests marked `slow` (federation-sized sync, hundreds-of-patients
# reference checks, Hypothesis runs of full PySpark searches); `make test-all` runs them too.
test: install-dev system-deps frontend lint
	$(BIN)/pytest -m "not slow" --durations=15

test-all: install-dev system-deps frontend lint
	$(BIN)/pytest --durations=25

bench: install-dev
	$(BIN)/python bench/synth_import.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/monthly_report.py

demo: install pdf-deps frontend
	$(BIN)/python -m rxwatch.demo --out $(DEMO_DIR) --port $(PORT)

clean:
	rm -rf var build dist .pytest_cache
