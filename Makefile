# OpenCommissioning: the commands a newcomer needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/opencommissioning
export PYTHONUNBUFFERED := 1
# Hypothesis examples fixed for the test runs (tests/conftest.py); HYPOTHESIS_PROFILE=explore searches afresh
export HYPOTHESIS_PROFILE ?= ci

.PHONY: help demo serve test test-sqlite test-postgres check lint types bench bench-referrals bench-analytics bench-needs install assets postgres chromium clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(BIN)/python:
	@echo "==> Creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> Installing OpenCommissioning and its tools (pip)"
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> Installing front-end packages (npm ci, from package-lock.json)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

assets: node_modules/.package-lock.json $(VENV)/.installed ## copy the NHS.UK frontend and htmx into static files
	$(BIN)/python scripts/build_assets.py

install: $(VENV)/.installed assets ## create .venv and install everything

demo: install ## migrate SQLite, load the demo commissioner and serve http://127.0.0.1:8000
	@echo "==> Migrating the SQLite database (var/opencommissioning.sqlite3)"
	OPENCOMMISSIONING_ENV=demo $(BIN)/python manage.py migrate --no-input
	@echo "==> Loading the demo commissioning organisation"
	OPENCOMMISSIONING_ENV=demo $(BIN)/python manage.py load_demo
	@echo "==> Serving the platform on http://127.0.0.1:8000 with the background worker (Ctrl-C stops both)"
	$(SERVE)

serve: install ## serve the existing database (and the background worker) without reloading the demo
	$(SERVE)

# The web server and the background worker (django-tasks' database backend: uploads and
# recomputes run there); stopping the server stops the worker.
SERVE = OPENCOMMISSIONING_ENV=demo $(BIN)/python manage.py db_worker --no-reload --interval 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT; \
	OPENCOMMISSIONING_ENV=demo $(BIN)/python manage.py runserver 127.0.0.1:8000

chromium: ## Debian's chromium for the browser tests (never a downloaded browser)
	@command -v chromium >/dev/null || { \
	  echo "==> Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null || { echo "FATAL: chromium could not be installed"; exit 1; }

postgres: ## make sure PostgreSQL answers on 127.0.0.1:5432 (starts it if it is down)
	@scripts/ensure_postgres.sh

test-sqlite: install chromium
	@echo "==> Test suite on SQLite"
	OPENCOMMISSIONING_ENV=test $(BIN)/pytest

# The analytics package never touches the database, so its tests (methods, engine spec,
# generative) run once, in the SQLite pass; everything that uses the database runs on both.
ANALYTICS_ONLY := --ignore=tests/spec --ignore=tests/generative --ignore=tests/unit/analytics

test-postgres: install chromium postgres
	@echo "==> Test suite on PostgreSQL ($(PG_URL)); analytics-only tests ran in the SQLite pass"
	OPENCOMMISSIONING_ENV=test DATABASE_URL=$(PG_URL) $(BIN)/pytest $(ANALYTICS_ONLY)

test: test-sqlite test-postgres ## install what the tests need, run the suite on SQLite and on PostgreSQL

lint: install ## ruff (with DTZ, S, DJ) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/lint-imports

types: install ## mypy on the analytics package
	$(BIN)/mypy

check: lint types test ## lint, types and the whole test suite

bench: install postgres ## benchmarks; results as JSON in bench/results/
	OPENCOMMISSIONING_ENV=test $(BIN)/python bench/run.py

bench-referrals: install postgres ## only the referral intake benchmark (bench/results/referrals.json)
	OPENCOMMISSIONING_ENV=test $(BIN)/python bench/run.py referrals

bench-analytics: install ## only the analytics benchmark: 10M, 50M, 200M rows (BENCH_ANALYTICS_SCALES narrows them)
	$(BIN)/python bench/analytics.py

bench-needs: install ## only the needs recompute benchmark on the demo data (bench/results/needs.json)
	OPENCOMMISSIONING_ENV=test $(BIN)/python bench/run.py needs

clean: ## remove the virtual environment, node packages and generated files (keeps var/)
	rm -rf $(VENV) node_modules src/opencommissioning/static/vendor .pytest_cache .mypy_cache .ruff_cache
