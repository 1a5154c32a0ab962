# The two commands a newcomer runs: `make demo` and `make test`.
# Each creates the virtual environment under .venv by itself (Python 3.11+, git, make).
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit func schemas bench bench-all clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the engine and its tools into $(VENV) (first run only)..."
	@$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]' 2>&1 \
		| { grep -v "^WARNING: Location 'file:" || true; }
	@rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/mlops demo

test: lint typecheck
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/ruff format --check engine tests benchmarks
	$(BIN)/mlops schemas --check
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

func: $(STAMP)
	$(BIN)/python -m pytest -q tests/func

schemas: $(STAMP)
	$(BIN)/mlops schemas

# The issue-14 table, each figure beside its reference; fails on a >20% regression against
# benchmarks/baseline.json (refresh: $(BIN)/python benchmarks/table.py --write-baseline).
bench: $(STAMP)
	$(BIN)/python benchmarks/table.py --check

bench-all: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
