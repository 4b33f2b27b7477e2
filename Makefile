# Two set-up commands, each creating .venv and installing the project from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit e2e e2e-releases rig test-cluster e2e-cluster clean

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
	$(BIN)/python -m pytest -n 2 -q -m "not e2e and not slow and not cluster"

## e2e: the tests that start real Flower processes
e2e: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "e2e and not cluster"

## e2e-releases: the runtime contract against Flower 1.41.0 too (a second venv with that release)
e2e-releases: $(STAMP)
	$(PYTHON) -m venv .venv-flwr141
	.venv-flwr141/bin/python -m pip install --quiet flwr==1.41.0
	FLOWER_FEDERATION_EXTRA_FLWR=$(CURDIR)/.venv-flwr141/bin $(BIN)/python -m pytest -n 2 -q -m e2e tests/test_flower_releases.py

## rig: build the real control plane's binaries from pinned Go modules (cached outside the repo; a second run does nothing)
rig:
	rig/build

## test-cluster: the cluster suite: pulumi preview/up/destroy against a real API server and OCM's controllers
test-cluster: $(STAMP) rig
	$(BIN)/python -m pytest -p no:xdist -q -m cluster tests/cluster --ignore=tests/cluster/test_e2e.py

## e2e-cluster: real spokes (own API servers, OCM's work agent), the rig's pod runner and a Flower run across them (root)
e2e-cluster: $(STAMP) rig
	$(BIN)/python -m pytest -p no:xdist -q -s -m cluster tests/cluster/test_e2e.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy federation components policy

clean:
	rm -rf $(VENV) .venv-flwr141
