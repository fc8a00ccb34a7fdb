# dualcard — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q --disable-pip-version-check
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.dev-stamp
# READER=sim (default: cards in process) or READER=vpcd (cards served through pcscd + vpcd)
READER ?= sim

.PHONY: demo test sysdeps venv pcsc vpcd lint typecheck docs bench clean

# dualcard alone: all `make demo` needs (no compiler, no root).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[service]'
	@touch $(STAMP)

# The dev extra: everything the test run needs (test tools, mypy, pyscard, the PostgreSQL
# driver, matplotlib). pyscard builds from source: it needs swig and libpcsclite-dev (sysdeps).
$(DEV_STAMP): $(STAMP) | sysdeps
	@$(PIP) -e '.[dev]'
	@touch $(DEV_STAMP)

venv: $(DEV_STAMP)
pcsc: sysdeps $(DEV_STAMP)

## System packages for the PC/SC tier (pcscd + vsmartcard-vpcd), the pyscard build, PostgreSQL.
sysdeps:
	@bash scripts/install-sysdeps.sh

## The virtual reader: pcscd with the vsmartcard-vpcd driver, started in the background if it
## is not running (root only) and left running; `dualcard sim serve --start-pcscd` does the same.
vpcd: pcsc
	@$(PY) -m host.testing.pcscd

## The main job: an end-to-end run on embedded defaults (simulated cards, SQLite).
ifeq ($(READER),vpcd)
demo: pcsc
else
demo: $(STAMP)
endif
	@$(PY) -m host.demo --reader $(READER)

## Every test tier: unit, simulator, tear, fuzz, ledger, and the real pcscd + vpcd stack.
test: sysdeps $(DEV_STAMP)
	@$(PY) -m ruff check .
	@$(PY) -m mypy
	@$(PY) -m pytest

lint: $(DEV_STAMP)
	@$(PY) -m ruff check .

## Static types of the four packages ([tool.mypy] in pyproject.toml).
typecheck: $(DEV_STAMP)
	@$(PY) -m mypy

docs: $(STAMP)
	@$(PY) -m apdu_specs.docgen docs/apdu-reference.md

bench: pcsc
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
