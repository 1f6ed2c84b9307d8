# django-personalize: developer commands. GNU make; needs only Python 3.11+ (and gcc + Python
# headers, because rectools-lightfm builds from source). See docs/development.md.
#
#   make test            test suite on SQLite, Celery eager (service tests skip with a reason)
#   make test-postgres   the same suite on PostgreSQL + Redis with a real Celery worker
#   make test-py313      the SQLite suite on Python 3.13 with the newest Django, in .venv313
#   make test-oscar      the django-oscar store's journey (tests/oscar), in .venv-oscar
#   make fuzz            schemathesis against the API's OpenAPI schema on PostgreSQL + Redis
#   make demo            migrate, load demo data once, train, serve http://127.0.0.1:8000
#   make worker          Celery worker + beat for the demo (needs CELERY_BROKER_URL)
#   make clean           remove virtualenvs, demo database and caches

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# First interpreter that runs and is >= 3.11; override with `make PYTHON=/path/to/python3.x`.
PY_CANDIDATES ?= python3.11 python3
PYTHON ?= $(firstword $(foreach p,$(PY_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $(p))))
VENV ?= .venv
EXTRAS ?= test,demo
# Extra requirements installed together with the package (the py313 stage adds the newest Django).
EXTRA_REQUIREMENTS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.personalize-installed

# Demo / service settings (read by demo_shop/settings.py and tests/settings.py).
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_BROKER_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000
# `make demo TRAIN=0` serves at once with the models trained by an earlier run (training: ~30 s).
TRAIN ?= 1
PYTEST_ARGS ?=

.PHONY: help install test test-postgres test-py313 test-oscar faults fuzz print-python313 demo worker clean

help:
	@sed -n '4,12p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

# --- virtualenv --------------------------------------------------------------------------
$(PY):
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: no Python >= 3.11 found (tried: $(PY_CANDIDATES)); run make PYTHON=/path/to/python3.11" >&2; \
		exit 1; fi
	@echo ">> creating $(VENV) with $$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])')"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }

# Re-install only when pyproject.toml (or the extra requirements) changed since the last install.
$(STAMP): pyproject.toml | $(PY)
	@echo ">> installing -e .[$(EXTRAS)] $(EXTRA_REQUIREMENTS) into $(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]' $(EXTRA_REQUIREMENTS) || { \
		echo "hint: rectools-lightfm builds from source and needs gcc and the Python headers" \
			"(Debian: apt-get install build-essential python3-dev)" >&2; exit 1; }
	@touch $@

install: $(STAMP)

# --- tests -------------------------------------------------------------------------------
# The library's suite (tests/), then the demo shop's own tests with their settings; a JUnit
# report named in PYTEST_ARGS gets a "-demo" twin for the second run.
DEMO_PYTEST_ARGS = $(subst .xml,-demo.xml,$(PYTEST_ARGS))

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m pytest demo_shop/tests --ds=demo_shop.tests.settings $(DEMO_PYTEST_ARGS)

# PostgreSQL + Redis + a real Celery worker; a missing service fails the run (never skips).
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(REDIS_BROKER_URL)} \
	PERSONALIZE_SERVICES=require \
	$(PY) -m pytest $(PYTEST_ARGS)
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(REDIS_BROKER_URL)} \
	PERSONALIZE_SERVICES=require \
	$(PY) -m pytest demo_shop/tests --ds=demo_shop.tests.settings $(DEMO_PYTEST_ARGS)

PYTHON313 ?= $(firstword $(foreach p,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),$(shell $(p) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && echo $(p))))

print-python313:
	@echo $(PYTHON313)

test-py313:
	@if [ -z "$(PYTHON313)" ]; then echo "error: no Python 3.13 found; run make test-py313 PYTHON313=/path/to/python3.13" >&2; exit 1; fi
	$(MAKE) --no-print-directory test VENV=.venv313 PYTHON=$(PYTHON313) EXTRA_REQUIREMENTS="'django>=6'"

# A small django-oscar store (tests/oscar_project) through a shopper's whole journey. Its own
# virtualenv: Oscar 4.x chooses its Django range, and the main suite never needs Oscar.
OSCAR_VENV ?= .venv-oscar
OSCAR_PY := $(OSCAR_VENV)/bin/python
OSCAR_STAMP := $(OSCAR_VENV)/.personalize-installed

$(OSCAR_STAMP): pyproject.toml
	@[ -x $(OSCAR_PY) ] || $(PYTHON) -m venv $(OSCAR_VENV)
	@echo ">> installing -e .[test,oscar] into $(OSCAR_VENV)"
	$(OSCAR_PY) -m pip install --quiet --disable-pip-version-check -e '.[test,oscar]'
	@touch $@

# The fault and abuse suite (bench/faults.py): starts gunicorn servers against PostgreSQL + Redis.
FAULTS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench_faults
faults: $(STAMP)
	FAULTS_DATABASE_URL=$(FAULTS_DATABASE_URL) $(PY) bench/faults.py

# API fuzzing (bench/fuzz_api.py, docs/api.md): schemathesis (the [fuzz] extra) against the served
# OpenAPI schema, gunicorn on PostgreSQL + Redis; its own database, created and dropped.
# FUZZ_DATABASE_URL: empty = bench_fuzz_<pid>, a database of the run's own.
FUZZ_DATABASE_URL ?=
FUZZ_MAX_EXAMPLES ?= 50
FUZZ_STAMP := $(VENV)/.personalize-fuzz-installed
$(FUZZ_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS),fuzz]'
	@touch $@

fuzz: $(STAMP) $(FUZZ_STAMP)
	FUZZ_DATABASE_URL=$(FUZZ_DATABASE_URL) $(PY) bench/fuzz_api.py --max-examples $(FUZZ_MAX_EXAMPLES)

test-oscar: $(OSCAR_STAMP)
	$(OSCAR_PY) -m pytest --ds tests.oscar_project.settings tests/oscar -p no:cacheprovider \
		-W ignore::DeprecationWarning -W "ignore:update is not implemented:UserWarning" $(PYTEST_ARGS)

# --- demo --------------------------------------------------------------------------------
demo: $(STAMP)
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_data --if-empty
	@if [ "$(TRAIN)" = 1 ]; then set -x; $(PY) manage.py personalize_train; \
	else echo ">> TRAIN=$(TRAIN): keeping the models trained before"; fi
	@echo ">> serving the demo shop on http://$(HOST):$(PORT)/"
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: $(STAMP)
	@if [ -z "$${CELERY_BROKER_URL:-}" ]; then \
		echo "error: set CELERY_BROKER_URL (e.g. $(REDIS_BROKER_URL)) for both 'make worker' and 'make demo';" >&2; \
		echo "       without it the demo runs tasks eagerly and needs no worker." >&2; exit 1; fi
	$(PY) -m celery -A demo_shop worker --beat --loglevel=info \
		--scheduler django_celery_beat.schedulers:DatabaseScheduler

# --- housekeeping ------------------------------------------------------------------------
clean:
	rm -rf .venv .venv313 .venv-oscar var .pytest_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
