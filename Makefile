# Two set-up commands, each creating .venv and installing the project from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: install, then run the dev stack's federation for real on this machine (TLS, 2 rounds)
demo: $(STAMP)
	$(BIN)/flower-federation validate --stack dev
	$(BIN)/flower-federation local up --stack dev

## test: install, then ruff, mypy and the whole test suite (e2e with real Flower included)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy federation components

clean:
	rm -rf $(VENV)
