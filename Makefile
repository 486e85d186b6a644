# The README's two commands: `make run` starts Spyglass (embedded: SQLite, in-process worker);
# `make test` runs lint, type check and the whole test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: run test install install-dev assets lint typecheck pytest clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

assets: node_modules/.package-lock.json
	$(PY) scripts/build_assets.py

install: $(VENV)/.installed assets

install-dev: $(VENV)/.installed-dev assets

run: install
	$(BIN)/spyglass migrate
	$(BIN)/spyglass serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test: install-dev lint typecheck pytest

clean:
	rm -rf $(VENV) node_modules src/spyglass/web/static/vendor .pytest_cache .mypy_cache .ruff_cache
