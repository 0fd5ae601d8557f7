# The README's commands. Everything the project needs is installed here, into .venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
MG     := $(VENV)/bin/modelgate
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast bench bench-drift lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group dev -e .
	touch $(STAMP)

setup: $(STAMP)

## make demo: set up, initialise, simulate 12 months of real Airflow runs, then start the scheduler.
demo: setup
	$(MG) init
	@if $(MG) status --json | grep -q '"runs": 0'; then \
		$(MG) simulate --months 12; \
	else \
		echo "The registry already holds a history; skipping the simulation (rm -rf .modelgate to start over)."; \
	fi
	@echo
	@$(MG) status
	@echo
	@$(MG) reviews
	@echo
	@echo "Approve a pending review: $(MG) approve <ID> --by you --reason 'looks good'"
	@echo "Roll back:                $(MG) rollback --by you --reason 'why'"
	$(MG) up

## make test: set up and run the whole suite (real Airflow, real SMTP, real browser where relevant).
test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not airflow and not slow"

bench: setup
	$(PY) bench/loop.py
	$(PY) bench/drift.py

bench-drift: setup
	$(PY) bench/drift.py

lint: setup
	$(VENV)/bin/ruff format --check pipeline registry dags dashboard tests bench
	$(VENV)/bin/ruff check pipeline registry dags dashboard tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .modelgate .pytest_cache .mypy_cache .ruff_cache
