# Every target creates the virtual environment in .venv on first use and reuses it after;
# it is rebuilt only when pyproject.toml changes. The IaC scanner (checkov) has a venv of its
# own, .venv-scan, made the same way from scan-requirements.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
SCAN_OUT := cdk.out/scan
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: dev test test-all lint format synth scan bench bench-reliability clean venv scan-venv browser screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev,infra]"
	touch $(STAMP)

# checkov brings about a hundred packages (botocore alone is thousands of files): uv installs
# them in a third of pip's CPU time, bytecode included (checkov imports hundreds of modules on
# every run). No cache: a fresh clone installs once, and a cache would hold another copy.
scan-venv: $(SCAN_STAMP)

$(SCAN_STAMP): scan-requirements.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --no-cache-dir "uv>=0.13,<0.14"
	$(SCAN_VENV)/bin/uv pip install --quiet --no-cache --compile-bytecode \
		--python $(SCAN_VENV)/bin/python -r scan-requirements.txt
	touch $(SCAN_STAMP)

## make dev: the local stack on loopback, in the foreground until Ctrl-C
## (VERBOSE=1: the functions' structured logs and metric lines on the terminal too)
dev: $(STAMP)
	$(BIN)/python -m local $(if $(filter 1 yes true,$(VERBOSE)),--verbose)

# The console's browser tests drive Debian's Chromium (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		apt-get install -y --no-install-recommends chromium fonts-liberation)

## make test: every test suite except those marked slow
test: $(STAMP) $(SCAN_STAMP) browser
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup

## make test-all: every test suite, slow ones included
test-all: $(STAMP) $(SCAN_STAMP) browser
	$(BIN)/python -m pytest

## make screenshots: the console's main screens as PNGs in docs/console/, by its browser tests
screenshots: $(STAMP) browser
	CONSOLE_SCREENSHOTS=docs/console $(BIN)/python -m pytest -p no:cacheprovider tests/browser

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

## make scan: checkov over the template cdk.json configures (bundling skipped), offline;
## fails on any finding no construct acknowledges (docs/deploy.md, "checkov acknowledgments")
scan: $(STAMP) $(SCAN_STAMP)
	rm -rf $(SCAN_OUT)
	CDK_OUTDIR=$(SCAN_OUT) CDK_CONTEXT_JSON='{"aws:cdk:bundling-stacks": []}' $(BIN)/python app.py
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov \
		--framework cloudformation --skip-download --compact --quiet \
		$$(printf -- '-f %s ' $(SCAN_OUT)/*.template.json)

bench: $(STAMP)
	$(BIN)/python -m bench

## the end-reason accuracy and webhook reliability runs: hundreds of meetings under event chaos
bench-reliability: $(STAMP)
	$(BIN)/python -m bench --only end_reason_accuracy,webhook_reliability

clean:
	rm -rf $(VENV) $(SCAN_VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage
