# Order fulfillment: make demo · make test · make help
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 is the Lambda runtime; pyenv's copy is used when it is not on PATH.
# (pyenv's shim may answer to `python3.13` without being able to run it, so each candidate is tried.)
PYTHON313 := $(shell for p in $$(command -v python3.13) $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV      := .venv
SAM_VENV  := .venv-sam
PY        := $(VENV)/bin/python
SAM       := $(SAM_VENV)/bin/sam
export TZ := UTC
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/domain
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export POWERTOOLS_METRICS_DISABLED ?= true
# Tests run in parallel (pytest-xdist): end-to-end tests mostly wait on callbacks and scaled timers, so more
# workers than cores pay off; each worker starts its own local runtime on its own free ports.
# `make test WORKERS=0` runs in one process.
WORKERS   ?= 6
XDIST     := $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadgroup)
# Every worker imports (and pytest assertion-rewrites) the suite, and the suite starts the CLI ~40 times:
# with bytecode caching switched off each of them compiles it all again.
unexport PYTHONDONTWRITEBYTECODE

$(VENV)/.installed: requirements-dev.txt layers/domain/requirements.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "Python 3.13 (the Lambda runtime) is required: install it or put python3.13 on PATH"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required"; exit 1; }
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

.PHONY: dev
dev: $(VENV)/.installed $(SAM_VENV)/.installed ## Create both virtualenvs (.venv for code and tests, .venv-sam for SAM CLI)

.PHONY: demo
demo: $(VENV)/.installed ## Run one signed WooCommerce order through to Completed on the local runtime
	$(PY) -m local demo

.PHONY: local
local: $(VENV)/.installed ## Serve the local runtime: HTTP API on :3000, AWS endpoint on :4566
	$(PY) -m local serve

.PHONY: format
format: $(VENV)/.installed ## Format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: lint
lint: $(VENV)/.installed $(SAM_VENV)/.installed ## ruff, cfn-lint, sam validate --lint, statelint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint
	$(PY) -m local.lint_asl

.PHONY: typecheck
typecheck: $(VENV)/.installed ## mypy --strict on the domain, functions, local runtime, ops CLI and benchmarks
	$(VENV)/bin/mypy layers/domain/fulfillment functions local ops bench

.PHONY: test-unit
test-unit: $(VENV)/.installed ## Unit tests (no AWS, no network)
	$(PY) -m pytest tests/unit

.PHONY: test-integration
test-integration: $(VENV)/.installed ## Adapters and handlers against moto
	$(PY) -m pytest tests/integration

.PHONY: test-e2e
test-e2e: $(VENV)/.installed ## End to end through the local runtime (in parallel)
	$(PY) -m pytest tests/e2e $(XDIST)

.PHONY: test
test: lint typecheck ## Lint, type-check and the whole offline test suite, with a branch-coverage report
	$(PY) -m pytest $(XDIST) --cov --cov-report=term
	$(PY) -m pytest tests/e2e/test_large_orders.py -m large --no-cov -q

.PHONY: test-large
test-large: $(VENV)/.installed ## The 3,000-line order end to end, alone (make test runs it after the parallel suite)
	$(PY) -m pytest tests/e2e/test_large_orders.py -m large

.PHONY: bench
bench: $(VENV)/.installed ## Benchmarks: intake overhead, cold-import ratios, cost per 1,000 orders
	$(PY) bench/intake_overhead.py
	$(PY) bench/import_time.py
	$(PY) bench/cost.py --orders 20

.PHONY: bench-load
bench-load: $(VENV)/.installed ## Load: 200 paid orders, each delivered twice at once, through the local runtime (exact counts)
	$(PY) bench/load.py --orders $(or $(ORDERS),200) --deliveries 2 --clients 16

.PHONY: events
events: $(VENV)/.installed ## Regenerate events/ for `sam local invoke -e`
	$(PY) -m local.events

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (python3.13, arm64)
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build

.PHONY: deploy
deploy: build ## sam deploy --config-env $(ENV) (default dev)
	$(SAM) deploy --config-env $(or $(ENV),default)

.PHONY: clean
clean: ## Remove virtualenvs and caches
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: help
help:
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
