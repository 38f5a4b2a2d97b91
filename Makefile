# The two commands of the README's quick start: `make run` and `make test`; `make docs` serves
# the documentation site.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Test processes (pytest-xdist): the suite is independent per test (own databases, ports, tmp dirs).
PYTEST_WORKERS ?= 2

.PHONY: run test lint types docs docs-build pytest install test-deps system-deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(PIP) install -e '.[test,docs]'
	touch $@

install: $(VENV)/.installed

test-deps: $(VENV)/.test-installed system-deps

# Debian's Chromium for the browser tests (never `playwright install`: it cannot download here).
system-deps:
	bash .ci/system-deps

run: install
	$(BIN)/publisher init
	$(BIN)/publisher run --demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The edit-test loop, under two minutes on two cores: lint, types and the fast tests, which
# leave out the tests marked slow (processes, browsers, real-time waits) and the PostgreSQL
# half of each pair. `make test` runs everything. The fast tests wait on sockets and threads
# often enough that a third worker still gains on two cores (93 s against 103 s).
CHECK_WORKERS ?= 3
.PHONY: check
check: lint types
	$(BIN)/pytest -q -n $(CHECK_WORKERS) -m "not slow and not postgresql"

types: $(VENV)/.test-installed
	$(BIN)/mypy

# mkdocs.yml is strict: a broken link, a missing page or a bad anchor fails the build. The site
# goes to the git-ignored site/. (NO_MKDOCS_2_WARNING quiets Material's banner about MkDocs 2.)
docs-build: $(VENV)/.test-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs: $(VENV)/.test-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

pytest: test-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --durations=30

test: lint types docs-build pytest

bench: $(VENV)/.test-installed
	$(BIN)/python bench/import_articles.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts site
