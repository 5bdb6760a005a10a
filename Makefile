# Halo's two commands:
#   make run   set up (venv, dependencies, database, demo data) and start Halo on the embedded defaults
#   make test  run the whole test suite (SQLite by default; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
# Every setting can come from the environment: HOST, PORT, PYTHON, VENV, PYTEST_ARGS, and Halo's own
# variables (HALO_DATA_DIR, DATABASE_URL, REDIS_URL, ... see README.md).

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
PIP_FLAGS ?= --quiet --disable-pip-version-check
# Links printed by the app (login, Slack, email) point at this server unless SITE_URL says otherwise.
export SITE_URL ?= http://$(HOST):$(PORT)

BIN := $(VENV)/bin

.PHONY: run test install install-dev migrate seed serve lint

run: install migrate seed serve

# pytest exits 5 when it collects no test (e.g. a PYTEST_ARGS filter that matches nothing): not a failure.
test: install-dev
	@status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@ $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: install
	$(BIN)/python manage.py seed_demo --if-empty

serve: install
	exec $(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
