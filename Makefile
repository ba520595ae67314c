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

# the HTML report is rendered in headless Chromium by tests/render/test_html.py: Debian's
# chromium package is installed when missing where that is possible (as root, with apt-get, as
# CI runs); elsewhere that one test is skipped, saying which command is missing
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium is missing and cannot be installed without root: the HTML rendering test will be skipped"; \
	fi

test: $(VENV)/.installed-dev chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# ruff (T20: the library never prints), mypy strict, and the import contracts in pyproject.toml
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

docs: $(VENV)/.installed
	$(BIN)/python -m modelprof.docs > docs/supported-ops.md

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_count.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
