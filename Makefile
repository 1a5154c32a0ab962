# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates the virtual environment under .venv by itself (Python 3.11+, git, make).
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every install takes its versions from the lock file: the same on every machine and in CI.
LOCK := requirements/lock.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit func schemas docs bench bench-all lock clean

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the engine and its tools into $(VENV) from $(LOCK) (first run only)..."
	@$(BIN)/python -m pip install --disable-pip-version-check -q -c $(LOCK) -e '.[dev]' 2>&1 \
		| { grep -v "^WARNING: Location 'file:" || true; }
	@rm -f $(VENV)/.installed-* && touch $@

# Refresh the lock after changing dependencies in pyproject.toml: `make lock`.
# uv (from PyPI, into .venv) resolves for every platform and Python; the versions
# already locked are kept unless pyproject.toml needs others (`make lock UPGRADE=1`
# moves everything to the newest releases).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check -q 'uv>=0.5'
	$(BIN)/uv pip compile --quiet --no-header --universal --python-version 3.11 \
		--extra dev $(if $(UPGRADE),--upgrade) pyproject.toml -o $(LOCK)

demo: $(STAMP)
	$(BIN)/mlops demo

test: lint typecheck
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	@if git grep -nE '^(<<<<<<<|>>>>>>>) ' -- engine tests docs benchmarks README.md Makefile pyproject.toml; then \
		echo "merge conflict markers are left in the lines above" >&2; exit 1; fi
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/ruff format --check engine tests benchmarks
	$(BIN)/mlops schemas --check
	$(BIN)/mlops docs --check
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

func: $(STAMP)
	$(BIN)/python -m pytest -q tests/func

schemas: $(STAMP)
	$(BIN)/mlops schemas

# The generated references (file formats, CLI) under docs/reference/.
docs: $(STAMP)
	$(BIN)/mlops docs

# The issue-14 table, each figure beside its reference; fails on a >20% regression against
# benchmarks/baseline.json (refresh: $(BIN)/python benchmarks/table.py --write-baseline).
bench: $(STAMP)
	$(BIN)/python benchmarks/table.py --check

bench-all: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
