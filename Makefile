# hipaa-catalog — every target works from a fresh clone; `make` alone prints this help.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/hipaa-catalog
PYTEST_WORKERS ?= auto
LOCAL_AWS_PORT ?= 4566
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv build test lint scan report publish local-aws demo bench golden clean distclean

help: ## Show this help
	@echo "hipaa-catalog — make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies (done by every other target)

build: $(STAMP) ## Render, validate and report every product into build/
	$(CLI) build

test: $(STAMP) ## Run the whole test suite (parallel with pytest-xdist)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

publish: build ## Publish build/ to S3 + Service Catalog in every catalog region (DRY_RUN=1: plan only)
	$(CLI) publish $(if $(filter-out 0,$(DRY_RUN)),--dry-run) $(PUBLISH_ARGS)

golden: $(STAMP) ## Rewrite the golden templates under tests/golden/ (review the diff!)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py

clean: ## Remove generated output (build/)
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv*' -prune -exec rm -rf {} +

distclean: clean ## Remove generated output and the virtualenvs
	rm -rf $(VENV) .venv-*
