# The two commands: `make run` (local stack) and `make test` (everything CI runs).
# Both create .venv and install the project first, from nothing but Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
# checkov (security checks of template.yaml) lives in a venv of its own inside .venv: its
# pins (boto3, botocore, networkx, packaging) would downgrade what the project's tools need.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/tools-checkov
CHECKOV := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: run test unit integration lint format build validate deploy bench tenant tenant-check import backfill invoke clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start the local stack on http://127.0.0.1:$(PORT) (Ctrl-C stops it)
run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m local

## test: lint, then unit, integration, local stack, browser and template tests, then the
##   timing tests alone
# Lint runs while checkov (for tests/template/test_security.py) is installed: network and
# disk, nothing is timed then. The test files go to the two workers in the order they are
# collected (--no-loadscope-reorder): xdist would otherwise hand out the files with the
# most tests first, leaving the long one-test files (pumping, fuzzing) for the end, one
# worker busy with one while the other waits.
test: $(STAMP)
	tools/ensure-chromium.sh
	$(MAKE) --no-print-directory -j2 lint $(CHECKOV)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not perf"
	$(BIN)/python -m pytest -m perf

$(CHECKOV): $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV)

## security: checkov on template.yaml alone (make test runs it too, through pytest)
.PHONY: security
security: $(CHECKOV)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

## unit: the unit tests only (no DynamoDB, no server, no template build, no browser)
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

## integration: the handlers on moto, their invariants and hostile inputs, the local stack
##   (no template build, no browser)
integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration tests/invariants tests/hostile tests/local -q -m "not perf"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/smsconsent functions local tools bench
	$(BIN)/mypy --strict layers/smsconsent functions
	PYTHONPATH=layers/smsconsent $(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: cold start, memory, pre-send throughput and retention scale; writes bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench

## build / validate / deploy: the SAM CLI from the venv (no Docker needed to build)
build: $(STAMP)
	$(BIN)/sam build

validate: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint

deploy: build
	$(BIN)/sam deploy --guided

## tenant: put a tenant from a JSON file into the table: make tenant FILE=my-tenant.json TABLE=<table name>
##   PRESEND=<PresendFunctionName output> also makes the pre-send alias tenant-<id> for direct invokes
##   ALARM_TOPIC=<AlarmTopicArn output> also puts the tenant's campaign opt-out rate alarm
tenant: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make tenant FILE=my-tenant.json TABLE=<TableName output>" >&2; exit 2; }
	$(BIN)/python -m tools.put_tenant $(FILE) $(if $(TABLE),--table $(TABLE)) $(if $(PRESEND),--presend-function $(PRESEND)) $(if $(ALARM_TOPIC),--alarm-topic $(ALARM_TOPIC))

## tenant-check: validate a tenant file without writing it (no AWS needed): make tenant-check FILE=my-tenant.json
##   LOCAL=1 validates it for the local stack (plain-text secrets allowed there only)
tenant-check: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make tenant-check FILE=my-tenant.json [LOCAL=1]" >&2; exit 2; }
	$(BIN)/python -m tools.put_tenant $(FILE) --check $(if $(LOCAL),--local)

## import: import a file (CSV with a header row, or NDJSON) into the running local stack,
##   with a progress bar: make import FILE=docs/samples/import.csv TENANT=demo
import: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make import FILE=subscribers.csv [TENANT=demo]" >&2; exit 2; }
	$(BIN)/python -m tools.import_file "$(FILE)" --tenant "$(or $(TENANT),demo)" --url http://127.0.0.1:$(PORT)

## backfill: once, after the deploy that adds the tenant-index: give subjects written before it
##   (and before the sms-optout-index) the attributes those indexes read; a migration, so it Scans
##   the table once: make backfill TABLE=<TableName output> [DRY_RUN=1]
backfill: $(STAMP)
	@test -n "$(TABLE)" || { echo "usage: make backfill TABLE=<TableName output of the stack> [DRY_RUN=1]" >&2; exit 2; }
	$(BIN)/python -m tools.backfill_indexes --table "$(TABLE)" $(if $(DRY_RUN),--dry-run)

## invoke: run a function on an event, as `sam local invoke -e`, against the running local stack
##   make invoke FUNCTION=SignupFunction EVENT=events/signup-json.json
##   PresendFunction takes a direct event through its tenant's alias: FUNCTION=PresendFunction:tenant-demo
##   Fails when the stack does not answer or refuses the request (its JSON error is printed).
invoke:
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=SignupFunction EVENT=events/signup-json.json" >&2; exit 2; }
	@curl -sS --fail-with-body -X POST -H 'content-type: application/json' --data @$(EVENT) \
		http://127.0.0.1:$(PORT)/_local/invoke/$(FUNCTION); status=$$?; echo; \
	case $$status in \
		0) ;; \
		7|28|52|56) echo "make invoke: no local stack answers at http://127.0.0.1:$(PORT): start it with make run (PORT=$(PORT))" >&2; exit 1 ;; \
		22) echo "make invoke: the local stack refused the request (above)" >&2; exit 1 ;; \
		*) echo "make invoke: curl failed (exit $$status)" >&2; exit 1 ;; \
	esac

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
