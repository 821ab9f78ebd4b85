# ledgerbridge: every target creates/updates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-fast bench bench-sandbox lint venv browser clean

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
	$(PY) -m bench.sandbox --quick

# Sandbox cost per request at 5,000 and 100,000 invoices, and a limits-off backfill at 5,000 and
# 50,000 (several minutes; figures in docs/sandboxes.md).
bench-sandbox: $(STAMP)
	$(PY) -m bench.sandbox

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .ledgerbridge .pytest_cache
