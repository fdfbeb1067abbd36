# LumioDesk — the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := lumiodesk.settings

.PHONY: run test test-fast bench eval email-corpus lint format services dev-env messages clean-venv

$(INSTALLED): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(INSTALLED)

services: $(INSTALLED)
	@$(PY) -m lumiodesk.services_check --start

# Local development: DEBUG=true and random SECRET_KEY / ENCRYPTION_KEY in the git-ignored .env, written on first
# run and kept afterwards (never overwritten). Production sets its own; the tests make theirs (tests/settings.py).
dev-env: $(INSTALLED)
	@$(PY) -m devtools.dev_env

run: dev-env services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py compilemessages --ignore=.venv -v 0
	$(PY) manage.py seed_demo --anchor today
	$(PY) manage.py runall

# PYTHONDONTWRITEBYTECODE= : the tests keep their bytecode (__pycache__/, git-ignored) even where the environment
# says not to write any: without it every pytest process compiles our code and rewrites the asserts of every test
# module again, 10 s of CPU each instead of 4 for the collection alone (x3 with two xdist workers).
PYTEST := PYTHONDONTWRITEBYTECODE= DJANGO_SETTINGS_MODULE=tests.settings $(VENV)/bin/pytest

test: services
	bash tests/install_system_deps.sh
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py compilemessages --ignore=.venv -v 0
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PYTEST) -n 2 --dist loadfile

# The fast lane while working: everything but the browser, the real Celery worker, the IMAP server, the
# tests that commit for real (concurrency races between two connections, the SMTP receiver: each empties
# the tables after it) and the slow checks (demo seed, property-based tests); markers set from the fixtures
# in tests/conftest.py. `make test` stays the full suite, run by CI.
#
# The catalogues the fast lane needs, compiled only when their .po changed (as compilemessages does it).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po */locale/*/LC_MESSAGES/django.po))
$(MO_FILES): %.mo: %.po
	msgfmt --check-format -o $@ $<

test-fast: services $(MO_FILES)
	bash tests/install_system_deps.sh
	$(PYTEST) -n 2 --dist loadfile -q -m "not browser and not worker and not imap and not slow and not commits"

# The benches live in devtools/ (devtools/management/commands/, devtools/bench/), not in the product's apps.
bench: dev-env services
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} \
		$(PY) -m lumiodesk.services_check --start
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} \
		$(PY) manage.py bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} \
		$(PY) manage.py bench_ingest
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py sla_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py automation_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py widget_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py import_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py cost_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py export_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py api_bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_bench} $(PY) manage.py dashboard_bench

# The knowledge-base assistant on its question sets (devtools/kb_eval: dev, test, first, sealed, sealed2; the held-out
# sealed3 only with HELD_OUT=1: once, on frozen code), in a database of its own; prints first / three first / wrong
# refusals / unanswerable refused / p95 for each.
eval: dev-env services
	DATABASE_URL=$${EVAL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_eval} \
		$(PY) -m lumiodesk.services_check --start
	DATABASE_URL=$${EVAL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_eval} \
		$(PY) manage.py migrate --noinput -v 0
	DATABASE_URL=$${EVAL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_eval} \
		$(PY) manage.py kb_eval --reindex $${HELD_OUT:+--held-out}

# The real-world email corpus (tests/tickets/email/email_corpus/real_world/) through ingest_email, in a database of its own.
# HALF=dev (default), heldout, heldout2, heldout3, heldout4 or all; FAILURES=1 lists every miss.
email-corpus: dev-env services
	DATABASE_URL=$${EVAL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_eval} \
		$(PY) -m lumiodesk.services_check --start
	DATABASE_URL=$${EVAL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lumiodesk_eval} \
		$(PY) manage.py email_corpus --half $${HALF:-dev} $${FAILURES:+--failures}

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: dev-env
	$(PY) manage.py makemessages -l fr -l en --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

clean-venv:
	rm -rf $(VENV)
