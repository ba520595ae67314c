# Two commands set everything up: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint typecheck check bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is asked for as exactly torch==2.13.0 (the CPU wheel; a looser spec pulls CUDA builds)
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[all]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[all,dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/modelprof count seed-cnn

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

check: lint test

docs: $(VENV)/.installed
	$(BIN)/python -m modelprof.docs > docs/supported-ops.md

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_count.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
