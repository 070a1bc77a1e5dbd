# Two commands for a newcomer: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR ?= 0
EMULATOR_PORT ?= 5000
# pytest-xdist workers for the unit and integration tests (each integration worker has its own emulator): 2 cores.
TEST_WORKERS ?= 2
EMULATOR_URL := http://127.0.0.1:$(EMULATOR_PORT)
# Where the emulator started by `make emulator` keeps its pid and log.
EMULATOR_DIR ?= .emulator

.PHONY: help venv system-deps emulator emulator-stop demo test lint checks unit lambdas docs integration integration-only sanity bench security clean

help:
	@echo "make demo   - provision the stack on a local AWS emulator and print its outputs"
	@echo "make test   - every check CI runs (lint, sanity, unit, lambdas, integration, molecule)"
	@echo "make bench  - time and count AWS calls of a no-op re-run of site.yml"
	@echo "make security - Prowler on the prod-shaped and the local stack, on the emulator"

$(VENV)/.installed: requirements.txt requirements-test.txt requirements-lint.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-test.txt -r requirements-lint.txt
	touch $@

venv: $(VENV)/.installed

# Prowler has its own virtual environment: its pinned dependencies would clash with the project's.
SECURITY_VENV ?= .venv-security
$(SECURITY_VENV)/.installed: requirements-security.txt
	test -x $(SECURITY_VENV)/bin/python || $(PYTHON) -m venv $(SECURITY_VENV)
	$(SECURITY_VENV)/bin/python -m pip install -q --upgrade pip
	$(SECURITY_VENV)/bin/python -m pip install -q -r requirements-security.txt
	touch $@

# Servers the tests start on loopback, and their clients, as command:Debian package. Debian's redis-server
# stands in for Valkey (same protocol). PostgreSQL's server binaries are off PATH, in /usr/lib/postgresql/<major>/bin:
# that command is a glob, which the unquoted `command -v $c` expands before looking.
SYSTEM_COMMANDS := redis-server:redis-server pg_dump:postgresql-client /usr/lib/postgresql/*/bin/initdb:postgresql
system-deps:
	@missing=""; for dep in $(SYSTEM_COMMANDS); do \
		c=$${dep%%:*}; command -v $$c > /dev/null || missing="$$missing $${dep#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q $$missing; \
		else echo "Please install:$$missing (Debian packages)"; exit 1; fi; \
	fi

# Starts the emulator in the background unless something already answers on the port.
emulator: venv
	@if curl -fs -o /dev/null $(EMULATOR_URL)/moto-api/; then \
		echo "AWS emulator already answering on $(EMULATOR_URL)"; \
	else \
		mkdir -p $(EMULATOR_DIR); \
		nohup $(BIN)/python -m tests.harness.emulator serve --port $(EMULATOR_PORT) > $(EMULATOR_DIR)/emulator.log 2>&1 & \
		echo $$! > $(EMULATOR_DIR)/pid; \
		for i in $$(seq 100); do curl -fs -o /dev/null $(EMULATOR_URL)/moto-api/ && break; sleep 0.2; done; \
		curl -fs -o /dev/null $(EMULATOR_URL)/moto-api/ || { cat $(EMULATOR_DIR)/emulator.log; exit 1; }; \
		echo "AWS emulator started on $(EMULATOR_URL) (stop it with: make emulator-stop)"; \
	fi

emulator-stop:
	@if [ -f $(EMULATOR_DIR)/pid ]; then kill $$(cat $(EMULATOR_DIR)/pid) 2>/dev/null || true; rm -f $(EMULATOR_DIR)/pid; fi

# DEMO_ARGS: more ansible-playbook options, e.g. DEMO_ARGS=-vvv or DEMO_ARGS=--check.
demo: emulator
	AWS_ENDPOINT_URL=$(EMULATOR_URL) ansible-playbook site.yml -i inventories/local $(DEMO_ARGS)

lint: venv
	ruff check .
	ruff format --check .
	yamllint --strict .
	ansible-lint --profile production
	scripts/lint-extra.sh
	for playbook in site.yml playbooks/*.yml; do ansible-playbook $$playbook -i inventories/prod --syntax-check > /dev/null || exit 1; done
	ansible-inventory -i inventories/prod --list > /dev/null

sanity: venv
	scripts/sanity.sh

unit: venv
	python -m pytest -q -n $(TEST_WORKERS) collections/ansible_collections/sage/infra/tests/unit

# The alert Lambda's tests run on the Python nearest to its runtime (scripts/lambda-python.sh says which).
LAMBDA_VENV ?= .venv-lambda
$(LAMBDA_VENV)/.installed: requirements-lambda-test.txt scripts/lambda-python.sh
	rm -rf $(LAMBDA_VENV)
	"$$(scripts/lambda-python.sh)" -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install -q --upgrade pip
	$(LAMBDA_VENV)/bin/python -m pip install -q -r requirements-lambda-test.txt
	touch $@

lambdas: $(LAMBDA_VENV)/.installed
	@$(LAMBDA_VENV)/bin/python -c 'import sys; print("The alert Lambda on Python", sys.version.split()[0])'
	$(LAMBDA_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/lambdas

docs: venv
	python -m pytest -q tests/test_docs.py tests/test_booleans.py tests/test_security_lists.py

INTEGRATION_TESTS = python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=25 \
	tests/integration

integration: venv system-deps
	$(INTEGRATION_TESTS)

# The same without prerequisites, so that `make test`'s parallel part starts it first.
integration-only:
	$(INTEGRATION_TESTS)

# Lint first: the quickest to fail. Then the integration tests, which leave part of the two cores idle while they wait
# on the emulator and the servers, with the other checks beside them one at a time (-j2: a job slot each, the
# integration tests first); each target's output is printed when it ends (-Otarget); -k: every check runs even
# after one failed.
test: lint system-deps
	@echo "Now the integration tests (25 to 35 minutes), and beside them sanity, unit, lambdas and docs."
	@echo "Each one's output is printed when it ends."
	$(MAKE) --no-print-directory -j2 -k -Otarget integration-only checks

checks: sanity unit lambdas docs security

bench: venv
	python -m tests.bench
	python -m tests.bench_backup
	python -m tests.bench_timing

# Converges the prod-shaped stack and the local one, each on an emulator of its own, and runs Prowler on them
# (tests/security.py; what is muted and why: security/mutelist.yaml and docs/security.md).
security: venv $(SECURITY_VENV)/.installed
	python -m tests.security --prowler $(CURDIR)/$(SECURITY_VENV)/bin/prowler

clean: emulator-stop
	rm -rf $(VENV) $(SECURITY_VENV) $(LAMBDA_VENV) $(EMULATOR_DIR) .pytest_cache .ruff_cache
