# The README's commands. Everything the project needs is installed here, into .venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
MG     := $(VENV)/bin/modelgate
STAMP  := $(VENV)/.installed-stamp
# The browser tests drive Debian's chromium through Playwright (never 'playwright install').
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_PASSWORD ?= modelgate-demo

.PHONY: setup demo test test-fast bench bench-crash bench-drift bench-rollout bench-dashboard bench-simulate bench-encoding bench-fleet bench-evidence lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group dev -e .
	touch $(STAMP)

setup: $(STAMP)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the dashboard's browser tests (once, ~30 s)..."
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

## make demo: set up, initialise, simulate 12 months of real Airflow runs of the demo fleet (three
## models, examples/demo-fleet.toml), add demo users, then start the scheduler and the dashboard.
# The demo rolls promotions out gradually (10 -> 25 -> 50 -> 100%) so the Rollouts page has a story.
DEMO_HOME ?= $(or $(MODELGATE_HOME),.modelgate)
demo: export MODELGATE_ROLLOUT_STRATEGY ?= gradual
demo: setup
	@mkdir -p $(DEMO_HOME)
	@if [ ! -f $(DEMO_HOME)/modelgate.toml ] && [ ! -f modelgate.toml ] && [ -z "$$MODELGATE_CONFIG" ]; then \
		cp examples/demo-fleet.toml $(DEMO_HOME)/modelgate.toml; \
		echo "The demo fleet's catalog is $(DEMO_HOME)/modelgate.toml (three models)."; \
	fi
	$(MG) init
	@if ! $(MG) status --json | grep -q '"runs": [1-9]'; then \
		$(MG) simulate --months 12; \
	else \
		echo "The registry already holds a history; skipping the simulation (rm -rf $(DEMO_HOME) to start over)."; \
	fi
	@if ! $(MG) users list --json | grep -q '"username": "admin"'; then \
		echo "$(DEMO_PASSWORD)" | $(MG) users add admin --role admin --password-stdin; \
		echo "$(DEMO_PASSWORD)" | $(MG) users add viewer --role viewer --password-stdin; \
	fi
	@echo
	@$(MG) status
	@echo
	@$(MG) reviews
	@echo
	@echo "Approve a pending review: $(MG) approve <ID> --by you --reason 'looks good'   (the id names its model)"
	@echo "Roll back a model:        $(MG) --model occupancy rollback --by you --reason 'why'"
	@echo
	@echo "Dashboard: http://127.0.0.1:8501  sign in as 'admin' (or 'viewer'), password '$(DEMO_PASSWORD)'"
	$(MG) up

## make test: set up and run the whole suite (real Airflow, real SMTP, real browser where relevant).
test: setup $(CHROMIUM)
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not airflow and not slow"

bench: setup $(CHROMIUM)
	$(PY) bench/loop.py
	$(PY) bench/drift.py
	$(PY) bench/rollout.py
	$(PY) bench/dashboard.py
	$(PY) bench/simulate_real.py
	$(PY) bench/crash.py
	$(PY) bench/encoding.py
	$(PY) bench/fleet.py
	$(PY) bench/evidence.py

## make bench-fleet: the Fleet and model pages in Chromium on 50 models (goal < 1 s each), and one
## month of 'simulate' for 1, 10 and 50 models (goal: a flat cost per model).
bench-fleet: setup $(CHROMIUM)
	$(PY) bench/fleet.py

## make bench-evidence: what the evidence record adds to a run (100k holdout rows x 12 segments)
bench-evidence: setup
	$(PY) bench/evidence.py

## make bench-simulate: a year of real flights through 'modelgate simulate' (BASELINE=path: an
## older checkout to compare with, e.g. a git worktree).
bench-simulate: setup
	$(PY) bench/simulate_real.py $(if $(BASELINE),--baseline-tree $(BASELINE))

bench-rollout: setup
	$(PY) bench/rollout.py

bench-dashboard: setup $(CHROMIUM)
	$(PY) bench/dashboard.py

bench-drift: setup
	$(PY) bench/drift.py

## make bench-encoding: peak memory of a 3,000-level categorical over 100k rows (goal < 1 GB).
bench-encoding: setup
	$(PY) bench/encoding.py

## make bench-crash: kill -9 the registry 100 times mid-decision; every decision keeps one notification.
bench-crash: setup
	$(PY) bench/crash.py

lint: setup
	$(VENV)/bin/ruff format --check pipeline registry dags dashboard tests bench
	$(VENV)/bin/ruff check pipeline registry dags dashboard tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .modelgate .pytest_cache .mypy_cache .ruff_cache
