# The two Quickstart commands, `make dev` and `make test`, and the steps they share.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint controlplane tools manifests image status-fixtures

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

## Build (or reuse from the cache) every Go tool the tests use: the control plane, helm, kstatus.
tools: $(STAMP)
	$(BIN)/vmroll devcluster build all

## Capture tests/fixtures/status/ again from real runs on the local stack (the objects Argo CD's
## and Flux's health checks are tested on); then review the expected messages in their
## health_test.yaml and kstatus_test.yaml, which tests/unit/test_gitops_health.py checks.
status-fixtures: tools
	VMROLL_WRITE_STATUS_FIXTURES=1 $(BIN)/pytest tests/e2e/test_status_fixtures.py tests/e2e/test_pool_rollout_events.py

## Regenerate what is rendered from sources: crds/ from the models, the chart's copy of the
## CRDs, and manifests/ (the kustomize base) from the chart. Tests fail when these drift.
manifests: $(STAMP)
	$(BIN)/vmroll crds
	$(BIN)/vmroll manifests

## Build (or reuse from the cache) the container image: dist/vmroll-<version>.oci.tar. Needs root;
## installs mmdebstrap with apt-get when it is missing.
image: $(STAMP)
	$(BIN)/vmroll image build

## Static checks: lint, format, types and layering.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## The whole test suite: static checks, then unit, integration, image and e2e tests.
test: lint tools image
	$(BIN)/pytest
