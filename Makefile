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
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: help venv tools run test lint types unit functional e2e template sam-build checkov bench deploy clean

help:
	@echo "make run    start the whole gateway locally (moto as AWS, local IdP, local Slack)"
	@echo "make test   lint, types, unit, functional, end-to-end, template checks"
	@echo "make bench  benchmarks (never part of make test)"
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
