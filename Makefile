# Two set-up commands, each creating .venv and installing the project from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit e2e clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: install, then run the dev stack's federation for real on this machine (TLS, 2 rounds)
demo: $(STAMP)
	$(BIN)/flower-federation validate --stack dev
	$(BIN)/flower-federation local up --stack dev

## test: install, then ruff, the layering contracts, mypy and the whole test suite (e2e with real Flower included)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 -q

## unit: the fast tests only (no real Flower processes, no benchmark smoke runs)
unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not e2e and not slow"

## e2e: the tests that start real Flower processes
e2e: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy federation components policy

clean:
	rm -rf $(VENV)
