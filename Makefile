# pgspatial: two commands on a fresh Debian/Ubuntu machine.
#   make demo   set everything up, load the demo data on the embedded PostGIS, serve the API
#   make test   set everything up and run the whole test suite
# Also: make lint, make bench, make bench-quick, make vendor, make db-stop, make clean.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.pgspatial-installed
PYTEST_ARGS ?=

.PHONY: all demo test lint bench bench-quick bench-setup sysdeps sysdeps-test install vendor db-start db-stop clean

all: test

sysdeps:
	@scripts/install-system-deps core

# The test suite also drives real peers: PgBouncer (transaction pooling), GDAL (ogrinfo),
# and Chromium (the map page, through Playwright; never a downloaded browser).
sysdeps-test:
	@scripts/install-system-deps core pgbouncer gdal browser node

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[dev]'
	@touch $@

install: $(STAMP)

# MapLibre GL JS for the map page: npm ci on web/package-lock.json, copied into the service's
# static/vendor/ (gitignored). A no-op while the lock file is unchanged.
vendor:
	@scripts/vendor-maplibre

db-start: sysdeps install
	$(BIN)/pgspatial db start

db-stop:
	@[ -x $(BIN)/pgspatial ] && $(BIN)/pgspatial db stop || true

SERVICE_STAMP := $(VENV)/.pgspatial-service-installed

$(SERVICE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[dev,service]'
	@touch $@

demo: db-start $(SERVICE_STAMP) vendor
	$(BIN)/pgspatial demo

test: sysdeps-test db-start vendor
	$(BIN)/python -m pytest --pgspatial-require-db $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The peers (wrk, GDAL, TiPg and geopandas in .venv-bench/) are the bench's own, never the
# library's dependencies. `make bench` takes under 30 minutes, `make bench-quick` under 5.
# The service benches run the service as installed by its extra (uvicorn[standard]: uvloop).
bench-setup: sysdeps $(SERVICE_STAMP)
	@scripts/bench-setup

bench: db-start bench-setup
	$(BIN)/python bench/run.py

bench-quick: db-start bench-setup
	$(BIN)/python bench/run.py --quick

clean: db-stop
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache web/node_modules \
		src/pgspatial/service/static/vendor
