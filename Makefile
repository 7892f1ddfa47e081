PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench docs docs-check lint-imports clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

# numba's cache of a kernel holds the functions it inlined from other modules but is invalidated only
# when the kernel's own file changes: drop every cached kernel whenever any engine or scheme module changed
KERNELS := $(VENV)/.kernels-fresh
$(KERNELS): $(wildcard weightlab/robustness/*.py weightlab/weighting/*.py) | $(BIN)/python
	find weightlab -name '*.nbi' -delete -o -name '*.nbc' -delete
	touch $@

demo: $(STAMP) $(KERNELS)
	$(BIN)/weightlab demo

test: $(STAMP) $(KERNELS) docs-check lint-imports
	$(BIN)/python -m pytest -q

# the documentation site (README, docs/*.md, the API reference from the docstrings) in docs/_build/html
SPHINX := $(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
docs: $(STAMP)
	$(SPHINX)

# make test's check: every page re-read (-E), so a warning of an unchanged page is not hidden by the cache
docs-check: $(STAMP)
	$(SPHINX) -E -q

# the import layers and the ban on import circles: the contracts of pyproject.toml's [tool.importlinter]
lint-imports: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo

bench: $(STAMP) $(KERNELS)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) weightlab-demo .pytest_cache docs/_build docs/api/generated
