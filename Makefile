# Contexten: `make run` for the demo, `make test` for the suite. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py

.PHONY: install run serve test test-scale lint format bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Create or update .venv from the lock file; never re-resolves. `--all-packages` installs
# every workspace member (extensions/contrib/*) with the root.
install: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --all-packages --quiet --python $(PYTHON)

run: install
	$(MANAGE) backup --if-migrations-pending
	$(MANAGE) migrate --no-input -v0 --skip-checks
	$(MANAGE) collectstatic --no-input -v0 --skip-checks
	$(MANAGE) seed_demo --skip-checks
	$(MANAGE) demo

serve: install
	$(MANAGE) backup --if-migrations-pending
	$(MANAGE) migrate --no-input -v0 --skip-checks
	$(MANAGE) collectstatic --no-input -v0 --skip-checks
	$(MANAGE) serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Scale-out on real hosts: 2 web + 2 worker hosts in network namespaces on a private Postgres
# and Redis (tests/scale). Needs root (ip netns); fails, never skips, without it.
test-scale: install
	env -u DATABASE_URL -u REDIS_URL CONTEXTEN_TEST_SCALE=1 $(PY) -m pytest tests/scale -s $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# wrk is the load generator the ingest benchmark measures with (a Python client would take
# the CPU the server needs); pgbench is its reference. Both come from Debian's packages.
bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) var
