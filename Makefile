# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tests use Redis database 15 so they never touch a dev server's locks in database 0.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/jobsite

.PHONY: venv venv-test run test test-sqlite test-pg lint bench chaos

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# The test tools (schemathesis) on top, for `make test` only.
venv-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

# make run is development: DEBUG=1 for itself (settings default to DEBUG off and then refuse the dev SECRET_KEY).
# The web server is the Procfile's `web` (gunicorn, threads, 127.0.0.1:8000); `make run WEB=runserver` starts
# Django's runserver instead, and WEB_PORT=8001 moves either.
WEB ?= web
RUN_ENV := DEBUG=1
run: venv
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py seed_demo
	$(RUN_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile $(WEB) scheduler

# The whole suite on SQLite, then again on PostgreSQL (SQLite alone hides locking bugs).
test: venv-test lint test-sqlite test-pg

test-sqlite: venv-test
	REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL= $(BIN)/python -m pytest $(PYTEST_ARGS)

test-pg: venv-test
	REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

# The chaos suite at full strength on both databases: 50+ pause trials, a 1,000-trigger storm, a minute of three
# schedulers, 300 jobs due together for one and for three schedulers, and on PostgreSQL two minutes of three
# namespaced hosts (tests/multihost, root only). (`make test` runs the same scenarios at a reduced profile.)
CHAOS_ENV := CHAOS_TRIALS=50 CHAOS_STORM_TRIGGERS=1200 CHAOS_SCHEDULER_SECONDS=60 CHAOS_BULK_JOBS=300 MULTIHOST_SECONDS=120
chaos: venv
	$(CHAOS_ENV) REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL= $(BIN)/python -m pytest tests/chaos -o timeout=1800 $(PYTEST_ARGS)
	$(CHAOS_ENV) REDIS_URL=$(TEST_REDIS_URL) DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest tests/chaos tests/multihost -o timeout=1800 $(PYTEST_ARGS)

bench: venv
	$(BIN)/python benchmarks/bench_locks.py
