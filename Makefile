# Squall: `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-packages demo test lint typecheck unit bench chaos stack-up stack-down up down clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests need (chromium, ...): installed when missing, as root;
# otherwise the command to run is printed (a failure under CI=true).
system-packages:
	bash deploy/system-packages.sh

demo: install
	$(BIN)/squall demo --replay $(or $(REPLAY),tests/data/apache_logs)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The suite talks to real Kafka (started here from Maven Central jars, stopped after)
# and real Druid (started by its test fixture). With CI=true a service that cannot
# start fails the run; elsewhere its tests are skipped with the reason.
unit: install
	$(BIN)/squall stack up kafka; up=$$?; \
	if [ $$up -ne 0 ] && [ "$$CI" = true ]; then $(BIN)/squall stack down; exit $$up; fi; \
	$(BIN)/pytest; rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

test: system-packages lint typecheck unit

# Benchmarks print figures; the Kafka and Druid ones need those services, started here
# (from Maven Central jars) and stopped after.
bench: install
	$(BIN)/squall stack up; \
	$(BIN)/python -m bench; rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

# The Kafka-outage test 10 times per client with a CPU hog on one core: pass count and
# recovery time p50/max (CHAOS_ARGS="--runs 3" for fewer).
chaos: install
	$(BIN)/squall stack up kafka || exit $$?; \
	$(BIN)/python tests/e2e/chaos.py $(CHAOS_ARGS); rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

stack-up: install
	$(BIN)/squall stack up

stack-down: install
	$(BIN)/squall stack down

up: install
	$(BIN)/squall compose up

down: install
	$(BIN)/squall compose down

clean:
	rm -rf $(VENV) .squall .pytest_cache .mypy_cache .ruff_cache
