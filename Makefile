# The two Quickstart commands, `make dev` and `make test`, and the steps they share.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint controlplane tools manifests

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## Run vmroll on the embedded local stack: control plane, Azure emulator and the operator.
dev: $(STAMP)
	$(BIN)/vmroll dev

## Build (or reuse from the cache) the control plane binaries.
controlplane: $(STAMP)
	$(BIN)/vmroll devcluster build controlplane

## Build (or reuse from the cache) every Go tool the tests use: the control plane, helm.
tools: $(STAMP)
	$(BIN)/vmroll devcluster build all

## Regenerate what is rendered from sources: crds/ from the models, the chart's copy of the
## CRDs, and manifests/ (the kustomize base) from the chart. Tests fail when these drift.
manifests: $(STAMP)
	$(BIN)/vmroll crds
	$(BIN)/vmroll manifests

## Static checks: lint, format, types and layering.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## The whole test suite: static checks, then unit, integration and e2e tests.
test: lint tools
	$(BIN)/pytest
