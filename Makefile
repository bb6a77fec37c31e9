# Ukeoi: `make run` starts the portal with demo data; `make test` runs every test on SQLite and PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1/ukeoi_test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint e2e bench clean lock

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	bash scripts/run.sh

# Browser tests run in their own pytest process: Playwright's sync API keeps an event loop running
# in the main thread, which would stop pyHanko's asyncio.run() in the tests that follow.
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

# The other tests run on two pytest-xdist workers, each with its own Redis and PostgreSQL database
# (tests/conftest.py); the browser tests share one live portal and run in one process.
test: $(VENV)/.dev lint
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" bash scripts/test_setup.sh
	$(PYTEST) -n 2 -m "not e2e"
	$(PYTEST) -m e2e
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(PYTEST) -n 2 -m "not e2e"
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(PYTEST) -m e2e

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy portal/rules portal/services
	$(VENV)/bin/bandit -q -c pyproject.toml -r portal

e2e: $(VENV)/.dev
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" bash scripts/test_setup.sh
	$(PYTEST) -m e2e

bench: $(VENV)/.dev
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	@mkdir -p bench/out
	$(PY) bench/web_latency.py | tee bench/out/web_latency.jsonl
	$(PY) bench/signing.py | tee bench/out/signing.jsonl
	$(PY) bench/purge.py | tee bench/out/purge.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Re-lock after changing requirements*.in: every package, transitive ones too, pinned with hashes.
lock:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet pip-tools
	.lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.txt requirements.in
	.lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements-dev.txt requirements-dev.in
	rm -rf .lock-venv
