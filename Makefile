# dualcard — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
READER ?= sim

.PHONY: demo test sysdeps venv lint docs bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[pcsc,dev,postgres]'
	@touch $(STAMP)

venv: $(STAMP)

## System packages for the PC/SC tier (pcscd + vsmartcard-vpcd) and the pyscard build.
sysdeps:
	@bash scripts/install-sysdeps.sh

## The main job: an end-to-end run on embedded defaults (simulated cards, SQLite).
demo: $(STAMP)
	@$(PY) -m host.demo --reader $(READER)

## Every test tier: unit, simulator, tear, fuzz, ledger, and the real pcscd + vpcd stack.
test: sysdeps $(STAMP)
	@$(PY) -m ruff check .
	@$(PY) -m pytest

lint: $(STAMP)
	@$(PY) -m ruff check .

docs: $(STAMP)
	@$(PY) -m apdu_specs.docgen docs/apdu-reference.md

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
