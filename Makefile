# ledgerbridge: every target creates/updates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-fast bench lint venv browser clean cluster-demo bench-scale

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the console's browser tests (installed only when missing and possible).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for browser tests"; \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || echo "chromium could not be installed"; \
	  else echo "chromium missing and cannot be installed here"; fi; \
	fi

demo: $(STAMP)
	$(VENV)/bin/ledgerbridge demo

test: $(STAMP) browser
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser" tests/unit tests/integration

bench: $(STAMP)
	$(PY) -m bench.backfill

# The compose.yaml topology as local processes (PostgreSQL and Redis on this machine): sandboxes
# for several companies, the web tier, workers and beat. Ctrl-C stops everything.
cluster-demo: $(STAMP)
	$(PY) -m ledgerbridge.cluster --companies 3 --workers 2

# Throughput with 1, 2 and 4 worker processes over 20 connections; one worker idling over 200.
bench-scale: $(STAMP)
	$(PY) -m bench.scale

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .ledgerbridge .pytest_cache
