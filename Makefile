# Squall: `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-packages demo test lint typecheck audit unit compose-test engine-up engine-down images bench anchors chaos soak stack-up stack-down up down clean

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

# pip-audit over the pins of pyproject.toml; exits 2 (and says so) when no vulnerability
# service answers from here, rather than passing with nothing checked (squall/deploy/audit.py)
audit: install
	$(BIN)/python -m squall.deploy.audit

# The suite talks to real Kafka (started here from Maven Central jars, stopped after)
# and real Druid (started by its test fixture). With CI=true a service that cannot
# start fails the run; elsewhere its tests are skipped with the reason.
unit: install
	$(BIN)/squall stack up kafka; up=$$?; \
	if [ $$up -ne 0 ] && [ "$$CI" = true ]; then $(BIN)/squall stack down; exit $$up; fi; \
	$(BIN)/pytest -m "not compose"; rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

# The compose stack on a real Docker engine: started here when none runs (as root, from
# Debian's docker.io) with the compose plugin and the Debian base image, stopped after
# (only if started here). With CI=true an engine that cannot be had fails the run.
ENGINE_DIR := .squall/engine
compose-test: install
	$(BIN)/python -m squall.deploy.compose.engine up $(ENGINE_DIR); up=$$?; \
	if [ $$up -ne 0 ] && [ "$$CI" = true ]; then $(BIN)/python -m squall.deploy.compose.engine down $(ENGINE_DIR); exit $$up; fi; \
	$(BIN)/pytest -m compose; rc=$$?; \
	$(BIN)/python -m squall.deploy.compose.engine down $(ENGINE_DIR); exit $$rc

test: system-packages lint typecheck unit compose-test

# A Docker engine for `make up` and friends (root, Debian's docker.io); stopped by
# engine-down only if engine-up started it.
engine-up: install
	$(BIN)/python -m squall.deploy.compose.engine up $(ENGINE_DIR)

engine-down: install
	$(BIN)/python -m squall.deploy.compose.engine down $(ENGINE_DIR)

# The compose images, built offline from wheels and jars resolved on the host.
images: install
	$(BIN)/squall compose build

# Benchmarks print figures; the Kafka and Druid ones need those services, started here
# (from Maven Central jars) and stopped after.
bench: install
	$(BIN)/squall stack up; \
	$(BIN)/python -m bench; rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

# Squall beside Flume, bytewax/faust/plain consumer loops and Storm (bench/anchors.py):
# Kafka started here and stopped after; the peers installed into the venv (not by
# `make install`); the table in README.md and docs/anchors.png rendered from the results.
anchors: install
	$(BIN)/pip install --quiet -e '.[dev,peers]' || exit $$?; \
	$(BIN)/squall stack up kafka || exit $$?; \
	$(BIN)/python -m bench anchors $(ANCHORS_ARGS); rc=$$?; \
	$(BIN)/squall stack down; exit $$rc

# Chaos (tests/e2e/chaos.py): while a client sends a known event set (retrying on 503 and
# connection errors), kill -9 and restart the collector, a compute worker (the topology
# container on compose), serve, Kafka and Druid's indexer and historical at random times in a random order drawn from a seed; then
# every event that got a 200 must be counted exactly once (full aggregates against ground
# truth). Seeds 1-3 on the embedded pipeline, on the local stack (Kafka + Druid, started
# here, stopped after), on the compose stack (project squall-chaos; the engine started
# here when none runs, stopped after if it was) and on its cluster profile (two of the
# three Kafka brokers among the parts); CHAOS_ARGS="--stack embedded --seed 7" replays one
# seed.
CHAOS_ARGS ?= --stack embedded,local,compose,cluster
chaos: install
	$(BIN)/squall stack up || exit $$?; \
	$(BIN)/python -m squall.deploy.compose.engine up $(ENGINE_DIR) || { $(BIN)/squall stack down; exit 1; }; \
	$(BIN)/python tests/e2e/chaos.py $(CHAOS_ARGS); rc=$$?; \
	$(BIN)/squall stack down; $(BIN)/python -m squall.deploy.compose.engine down $(ENGINE_DIR); exit $$rc

# Half an hour at 5,000 events/s on the embedded pipeline, then on the local stack (Kafka
# and Druid's JVMs as processes, stopped after if started here), then on the compose stack
# (Kafka, Druid, PostgreSQL; images built here, engine started here and stopped after if
# it was): every process's RSS, open files and threads each minute, nothing lost at the
# end; docs/soak-{embedded,local,compose}.* (JSON, PNG). SOAK_ARGS="--minutes 5".
soak: install
	$(BIN)/python -m bench soak --stack embedded $(SOAK_ARGS) || exit $$?; \
	$(BIN)/python -m bench soak --stack local $(SOAK_ARGS) || exit $$?; \
	$(BIN)/python -m squall.deploy.compose.engine up $(ENGINE_DIR) || exit $$?; \
	$(BIN)/squall compose build && $(BIN)/python -m bench soak --stack compose $(SOAK_ARGS); \
	rc=$$?; $(BIN)/python -m squall.deploy.compose.engine down $(ENGINE_DIR); exit $$rc

stack-up: install
	$(BIN)/squall stack up

stack-down: install
	$(BIN)/squall stack down

up: install
	$(BIN)/squall compose up

down: install
	$(BIN)/squall compose down

clean:
	rm -rf $(VENV) .squall .pytest_cache .mypy_cache .ruff_cache deploy/.context
