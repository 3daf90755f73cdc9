# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo drill test lint bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Debian packages: chromium for the browser tests (Playwright drives it, never downloads one), Pango for
# WeasyPrint's PDFs, poppler's pdftoppm to look at them in tests, postgresql-client for pg_dump backups.
CHROMIUM := /usr/bin/chromium
PDFTOPPM := /usr/bin/pdftoppm
PANGO := /usr/share/doc/libpango-1.0-0
PG_DUMP := /usr/bin/pg_dump
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends

browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) chromium

$(PDFTOPPM) $(PANGO):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) poppler-utils libpango-1.0-0 libpangoft2-1.0-0

# PostgreSQL's pg_dump and pg_restore, for backups of a PostgreSQL store (and their tests).
$(PG_DUMP):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) postgresql-client

# HAProxy and a Redis server for the cluster tests (tests/cluster/): several `releve up` replicas behind the
# load balancer deploy/haproxy.cfg describes, sharing state in Redis; tests start their own redis-server.
HAPROXY := /usr/sbin/haproxy
REDIS_SERVER := /usr/bin/redis-server

$(HAPROXY):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) haproxy

$(REDIS_SERVER):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) redis-server

demo: $(STAMP) $(PANGO)
	$(BIN)/releve demo

# A game day on the simulators: the provider-outage drill against an in-process gateway; prints the report's path.
drill: $(STAMP)
	$(BIN)/releve drill demo


test: $(STAMP) $(CHROMIUM) $(PDFTOPPM) $(PANGO) $(PG_DUMP) $(HAPROXY) $(REDIS_SERVER)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -q
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Everything issue #7 asks for, ~9 min on 2 cores (+ ~4 min the first time: LiteLLM's venv).
# Options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick" or BENCH_ARGS="--releve-commit HEAD".
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
