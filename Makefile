# The two commands of the README: `make demo` and `make test`. Both set up everything they need on a
# fresh machine: the virtualenv, SAM CLI (its own virtualenv), Java 17 and DynamoDB Local.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VERSION := 1.170.0
SAM_VENV := .cache/sam-$(SAM_VERSION)
SAM := $(SAM_VENV)/bin/sam
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: setup test demo lint requirements bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e '.[ops,dev]'
	touch $@

# SAM CLI pins its own boto3 and friends, so it lives in a virtualenv of its own.
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_FLAGS) aws-sam-cli==$(SAM_VERSION)

setup: $(VENV)/.installed $(SAM)
	$(BIN)/qunyun local setup

test: setup
	QUNYUN_SAM=$(SAM) $(BIN)/pytest

demo: $(VENV)/.installed
	$(BIN)/qunyun local setup
	$(BIN)/python -m qunyun_ops.demo

# ruff, then the layer contracts of pyproject.toml (import-linter; tests/unit/test_layers.py runs them in `make test`).
lint: $(VENV)/.installed
	$(BIN)/ruff check functions infra tests
	PYTHONPATH=functions:infra $(BIN)/lint-imports

# functions/requirements.txt is what `sam build` installs into every function; it is generated from
# pyproject.toml's [project] dependencies and tests/unit/test_requirements.py fails when they drift.
requirements: $(VENV)/.installed
	$(BIN)/python -m qunyun_ops.requirements > functions/requirements.txt

bench: setup
	$(BIN)/python tests/bench/groups_import.py
	$(BIN)/python tests/bench/cold_start.py
	$(BIN)/python tests/bench/points.py
	$(BIN)/python tests/bench/mall.py
	$(BIN)/python tests/bench/briefs.py

clean:
	rm -rf $(VENV) .cache .qunyun .aws-sam
