PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast smoke bench docs docs-check lint-imports clean kernel-cache

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

# numba's cache of a kernel holds the functions it inlined from other modules but is invalidated only
# when the kernel's own file changes: the kernels are cached in a directory named after a hash of every
# module a kernel may inline (the engine, the schemes, the inlining hook), so any change to one of them
# compiles afresh, and a tree seen before (another branch, an edit undone) finds its kernels again.
# The five most recently used directories are kept.
KERNEL_SOURCES := $(sort $(wildcard weightlab/robustness/*.py weightlab/weighting/*.py)) weightlab/_numba_inlining.py
KERNEL_CACHES := $(CURDIR)/$(VENV)/numba-cache
export NUMBA_CACHE_DIR := $(KERNEL_CACHES)/$(shell cat $(KERNEL_SOURCES) | sha256sum | cut -c1-16)

kernel-cache:
	@mkdir -p $(NUMBA_CACHE_DIR) && touch $(NUMBA_CACHE_DIR)
	@ls -1dt $(KERNEL_CACHES)/*/ | tail -n +6 | xargs -r rm -rf

demo: $(STAMP) kernel-cache
	$(BIN)/weightlab demo

# the wheel smoke test (.ci/smoke_wheel.py: build, fresh venv, read-only install, demo and sensitivity)
# runs beside pytest, which keeps about one core busy: its log goes to SMOKE_LOG, its result is
# printed once pytest is done, and either one failing fails the target. The smoke test's commands
# run without NUMBA_CACHE_DIR: they test where an installed weightlab caches its kernels
SMOKE_LOG := $(VENV)/smoke-wheel.log
test: $(STAMP) kernel-cache docs-check lint-imports
	@echo "wheel smoke test started beside pytest (log: $(SMOKE_LOG))"; \
	$(BIN)/python .ci/smoke_wheel.py > $(SMOKE_LOG) 2>&1 & smoke=$$!; \
	$(BIN)/python -m pytest -q; suite=$$?; \
	if wait $$smoke; then sed -n '/^stage /,$$p' $(SMOKE_LOG); \
	else echo "wheel smoke test FAILED; the end of $(SMOKE_LOG):"; tail -n 25 $(SMOKE_LOG); suite=1; fi; \
	exit $$suite

smoke: $(STAMP)
	$(BIN)/python .ci/smoke_wheel.py

# the edit loop: every test but the long ones (marked slow: the demo, long engine runs)
test-fast: $(STAMP) kernel-cache
	$(BIN)/python -m pytest -q -m "not slow"

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

bench: $(STAMP) kernel-cache
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) weightlab-demo .pytest_cache docs/_build docs/api/generated
