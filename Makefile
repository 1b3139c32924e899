# Two commands do everything on a fresh clone: `make demo` and `make test`.
# The virtual environment is created here from requirements.lock (uv if present, else pip).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export TRUST_DW_HOME ?= $(CURDIR)/var
# No telemetry may try the network (DESIGN §11).
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := False
export SCARF_ANALYTICS := false
# Let Python cache bytecode: the tests start many processes (dbt, Airflow) that import a lot.
export PYTHONDONTWRITEBYTECODE :=

DEMO_START ?= 2026-01-01
DEMO_DAYS ?= 3
DEMO_SCALE ?= tiny
DEMO_SEED ?= 42

.PHONY: help venv demo test test-fast test-full lint format lock clean bench docs

help:
	@echo "make demo   - set up, generate sample data, run the pipeline through Airflow, show what was published"
	@echo "make test   - set up and run the whole test suite (what CI runs)"
	@echo "make lint   - ruff + sqlfluff"
	@echo "make lock   - recompile requirements.lock from pyproject.toml"
	@echo "make bench SCALE=medium - benchmark the daily run (bench/README.md); results in bench/results/"
	@echo "make docs   - dbt docs generate (lineage, models, tests) and print where the site is"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@if command -v uv >/dev/null 2>&1; then \
		uv venv -q --allow-existing -p python3.11 $(VENV) && \
		uv pip install -q -p $(PY) -r requirements.lock && \
		uv pip install -q -p $(PY) --no-deps -e . ; \
	else \
		python3.11 -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV); \
		$(PY) -m pip install -q --upgrade pip && \
		$(PY) -m pip install -q -r requirements.lock && \
		$(PY) -m pip install -q --no-deps -e . ; \
	fi
	@touch $@

lock:
	uv pip compile pyproject.toml --extra dev -p 3.11 --no-header -o requirements.lock

demo: venv
	$(BIN)/trust-dw demo --scale $(DEMO_SCALE) --start $(DEMO_START) --days $(DEMO_DAYS) --seed $(DEMO_SEED)

test: venv lint
	$(BIN)/pytest -q -m "not full"

# The reliability suite (tests/reliability) runs at `small` here, at `tiny` in `make test`.
test-full: venv
	TRUST_DW_RELIABILITY_SCALE=small $(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check include dags tests bench
	$(BIN)/ruff format --check include dags tests bench

format: venv
	$(BIN)/ruff format include dags tests bench
	$(BIN)/ruff check --fix include dags tests bench

# The dbt docs site of the project, with the catalog of TRUST_DW_HOME's working file when it exists.
DOCS_DS ?= $(DEMO_START)
docs: venv
	$(PY) -m trust_dw.dbt_runner docs --ds $(DOCS_DS)

# Benchmark of the daily run (bench/README.md): data under $$TRUST_DW_BENCH_HOME/<scale> (default
# /tmp/trust_dw_bench/pipeline/<scale>), results in bench/results/<scale>.{json,md}.
SCALE ?= small
DAYS ?= $(if $(filter medium,$(SCALE)),31,3)
BENCH_ARGS ?= $(if $(filter large,$(SCALE)),--memory-limit 4GB,--airflow)

bench: venv
	$(BIN)/trust-dw bench --scale $(SCALE) --days $(DAYS) $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache dbt_project/target dbt_project/logs
