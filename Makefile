# ledgerbridge: every target creates/updates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Pinned versions of every dependency (pip-compile output). Used as constraints, so a
# dependency just added to pyproject.toml still installs before the lock is regenerated.
LOCK := requirements.lock
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-fast bench bench-reconcile soak lint audit lock venv browser clean bench-console bench-sandbox cluster-demo bench-scale

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -c $(LOCK) -e '.[dev]'
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

# The model-based convergence test run long (tests/model/soak.py): SOAK_OPERATIONS operations
# over successive seeds, every rule enabled; prints operations/s and findings.
SOAK_OPERATIONS ?= 10000
soak: $(STAMP)
	SOAK_OPERATIONS=$(SOAK_OPERATIONS) $(PY) tests/model/soak.py

# Real QBO speed by default (a few minutes); BENCH_FAST=1: the time-scaled run. Ends with the
# console at 10,000 invoices (index, search, dashboard; `make bench-console` for more repeats).
bench: $(STAMP)
	BENCH_FAST=$(BENCH_FAST) $(PY) -m bench.backfill
	$(PY) -m bench.sandbox --quick
	$(PY) -m bench.console --repeats 3

bench-reconcile: $(STAMP)
	$(PY) -m bench.reconcile $(N)

# Console response times (index, search, dashboard) at 10,000 invoices.
bench-console: $(STAMP)
	$(PY) -m bench.console

# Sandbox requests per second and CPU per request at 5,000 and 100,000 records.
bench-sandbox: $(STAMP)
	$(PY) -m bench.sandbox

# The compose.yaml topology as local processes (PostgreSQL and Redis on this machine): sandboxes
# for several companies, the web tier, workers and beat. Ctrl-C stops everything.
cluster-demo: $(STAMP)
	$(PY) -m ledgerbridge.cluster --companies 3 --workers 2

# Throughput with 1, 2 and 4 worker processes over 20 connections x 500 invoices (QBO limits on,
# one budget per realm shared in Redis); one worker idling over 200 connections with webhooks.
bench-scale: $(STAMP)
	$(PY) -m bench.scale

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

# Known vulnerabilities in the locked versions (PyPI's advisory data). Fails on any finding.
audit: $(STAMP)
	$(VENV)/bin/pip-audit --progress-spinner off --no-deps --disable-pip -r $(LOCK)

# Regenerate the lock after changing dependencies in pyproject.toml (commit both).
lock: $(STAMP)
	$(VENV)/bin/pip-compile -q --upgrade --extra dev --strip-extras --no-emit-index-url \
	  --no-emit-find-links --no-emit-trusted-host -o $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) .ledgerbridge .pytest_cache
