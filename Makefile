# One task runner for developers and CI.  Every target installs what it needs into .venv
# first, and only that, so a fresh machine with Python 3.11 needs nothing else:
# `make demo` installs the `cli` extra, `make test` the `test` extra, `make lint` adds the
# linters and the docs builder, `make dev` everything.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install dev test compat lint docs bench bench-quick demo clean

$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set of extras: `.installed-cli` after `pip install -e '.[cli]'`, ...
$(VENV)/.installed-%: pyproject.toml | $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install --quiet -e '.[$(subst +,$(comma),$*)]'
	touch $@

comma := ,
.PRECIOUS: $(VENV)/.installed-%
CLI  = $(VENV)/.installed-cli
TEST = $(VENV)/.installed-test
LINT = $(VENV)/.installed-test+docs+lint
DEV  = $(VENV)/.installed-dev

# the library and its command line (what `aiokit crawl` against real AWS needs)
install: $(CLI)

dev: $(DEV)

# pytest exits 5 when it collects nothing; that must fail loudly, not pass.
# Two pytest-xdist workers per core, one test file per worker at a time (--dist loadfile: a
# module's fixtures, its moto server and fake organization, are built once). Two per core,
# not one: a test spends part of its time waiting (on a CLI subprocess, a server, a
# deadline), and the other worker's tests fill it (on 2 cores: 571 s, against 670 s with
# one per core). Tests marked `timing` (rates and throttles against real clocks, which a
# starved event loop skews) run after the rest, one worker per core and nothing beside.
# `make test PYTEST_ARGS=-n0 TIMING_ARGS=-n0` runs each part in one process; for one file,
# run pytest itself (`.venv/bin/python -m pytest tests/test_x.py`): `make test` with a
# file of one kind only would leave the other part with nothing to collect, an error.
WORKERS     ?= $(shell expr 2 \* $$(nproc 2>/dev/null || echo 1))
PYTEST_ARGS ?= -n $(WORKERS) --dist loadfile
TIMING_ARGS ?= -n auto --dist loadfile
test: $(TEST)
	@for part in "not timing|$(PYTEST_ARGS)" "timing|$(TIMING_ARGS)"; do \
	    marks="$${part%%|*}"; args="$${part#*|}"; \
	    echo "--- pytest -m '$$marks' $$args"; \
	    $(BIN)/python -m pytest -m "$$marks" $$args; rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "pytest collected no tests ($$marks)" >&2; exit 1; fi; \
	    if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	done

# Upstream's own suites as the oracle: aiobotocore's and botocore's tests, from the sdists of
# the pinned versions, run plain and through aiokit; fails on any departure (compat/run.py).
compat: $(TEST)
	$(BIN)/python compat/run.py

lint: $(LINT) docs
	$(BIN)/ruff check aiokit tests benchmarks compat
	$(BIN)/ruff format --check aiokit tests benchmarks compat
	$(BIN)/mypy

# The documentation site (site/); --strict turns every mkdocs and docstring warning into a failure.
docs: $(LINT)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The main job: inventory an emulated AWS organization (moto on 127.0.0.1) into aiokit-demo.db, twice, and diff.
demo: $(CLI)
	$(BIN)/aiokit demo

bench: $(DEV)
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(DEV)
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .mypy_cache .ruff_cache .compat
