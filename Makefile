# Every target creates the virtual environment in .venv on first use and reuses it after;
# it is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: dev test test-all lint format synth bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev,infra]"
	touch $(STAMP)

## make dev: the local stack on loopback, in the foreground until Ctrl-C
## (VERBOSE=1: the functions' structured logs and metric lines on the terminal too)
dev: $(STAMP)
	$(BIN)/python -m local $(if $(filter 1 yes true,$(VERBOSE)),--verbose)

## make test: every test suite except those marked slow
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup

## make test-all: every test suite, slow ones included
test-all: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lambdas/meetings local infra app.py bench

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make synth: the CloudFormation templates in cdk.out/, offline
synth: $(STAMP)
	$(BIN)/python app.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage
