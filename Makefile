# mpscope: `make run` starts the dashboard, `make test` runs ruff and the whole suite,
# `make test-fast` the in-process tests (no browser, no server subprocess; < 30 s) after each change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup setup-dev run test test-fast test-cpython lint format clean bench bench-quick chaos

# `make run` installs the package and its runtime dependencies only; `make test` adds the
# dev extras (pytest, playwright, ruff...). Both install from pyproject.toml, editable.
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mpscope needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

setup-dev: $(VENV)/.dev-installed

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(PY) -m webapp --host $(HOST) --port $(PORT)

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint
	$(PY) -m pytest

# The app built in this process (tests/test_fast_*.py, marked `fast`): Flask's and
# Flask-SocketIO's test clients, the real built-in back end or a fake one. No browser, no
# server subprocess.
test-fast: setup-dev
	$(PY) -m pytest tests/test_fast_*.py

# CPython's own Manager and ProcessPool tests, plainly and under `mpscope run` (outcomes
# compared per test), and the `mpscope run` tests with the programs under pyenv's Python
# 3.9, 3.10, 3.12 and 3.13 (tools/test_cpython.py). Skipped, saying so, without pyenv.
test-cpython: setup-dev
	$(PY) tools/test_cpython.py $(ARGS)

# Benchmarks (docs/performance.md): `make bench` full run under 10 minutes, writes the
# results and the page; `make bench-quick` small scale, under a minute. ARGS=--soak adds the soak.
$(VENV)/.bench-installed: $(VENV)/.installed benchmarks/requirements.txt
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

bench: setup-dev $(VENV)/.bench-installed
	$(PY) -m benchmarks $(ARGS)

bench-quick: setup-dev $(VENV)/.bench-installed
	$(PY) -m benchmarks --quick $(ARGS)

# Long fault-injection run (docs/reliability.md): bounded (ARGS=--budget S, default 300 s),
# stops itself, writes chaos/results/latest.json. ARGS="--only kill_storm soak" runs a subset.
chaos: setup-dev
	$(PY) -m chaos.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
