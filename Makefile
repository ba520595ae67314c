# Two commands set everything up: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint typecheck check bench docs clean mutation

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

# Coverage of the whole suite, Python subprocesses included ([tool.coverage.*] in
# pyproject.toml). COVERAGE_FLOOR only ever moves up: set it to the figure reached, rounded down.
# Line and branch coverage are printed apart (the floor applies to coverage's combined figure).
COVERAGE_FLOOR := 94
test: $(VENV)/.installed-dev chromium
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)
	@$(BIN)/python -m coverage json -q -o - | $(BIN)/python -c "import json, sys; t = json.load(sys.stdin)['totals']; \
	print(f\"coverage: lines {t['percent_statements_covered']:.1f} %, branches {t['percent_branches_covered']:.1f} %, combined {t['percent_covered']:.1f} % (floor $(COVERAGE_FLOOR) %)\")"

# Mutation testing of the cost rules and the analysis (CONTRIBUTING.md says when): cosmic-ray,
# configured in cosmic-ray.toml, in a copy of the tree (mutants/), one mutant at a time; prints
# the score per module and every surviving mutant. MUTATE=src/modelprof/costs/conv.py narrows it
# to the files named (space-separated); MUTATION_FAIL_UNDER=97 makes a lower score fail.
MUTANTS := mutants
MUTATE ?=
MUTATION_FAIL_UNDER ?= 0
mutation: $(VENV)/.installed-dev
	rm -rf $(MUTANTS) && mkdir -p $(MUTANTS)
	cp -r src tests docs pyproject.toml cosmic-ray.toml $(MUTANTS)/
	find $(MUTANTS) -name __pycache__ -prune -exec rm -rf {} +
	$(if $(strip $(MUTATE)),sed -i 's|^module-path = .*|module-path = [$(foreach f,$(MUTATE),"$(f)",)]|' $(MUTANTS)/cosmic-ray.toml)
	cd $(MUTANTS) && export PATH="$(abspath $(BIN)):$$PATH" PYTHONPATH="$$PWD/src" PYTHONDONTWRITEBYTECODE=1 && \
	python -c "import modelprof, sys; sys.exit('/$(MUTANTS)/src/' not in modelprof.__file__)" && \
	cosmic-ray init cosmic-ray.toml session.sqlite && \
	cr-filter-pragma session.sqlite && \
	cr-filter-operators session.sqlite cosmic-ray.toml && \
	cosmic-ray baseline cosmic-ray.toml && \
	nice cosmic-ray exec cosmic-ray.toml session.sqlite && \
	cosmic-ray dump session.sqlite > session.jsonl && \
	python ../tests/costs/mutation_report.py --fail-under $(MUTATION_FAIL_UNDER) < session.jsonl

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
