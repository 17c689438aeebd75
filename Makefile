# One screen of targets; `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export POS_DATABASE_URL ?= sqlite:///var/pos.sqlite3

.DEFAULT_GOAL := help
.PHONY: help demo test browser lint typecheck format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/pos: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/pos ## migrate an SQLite file, load the demo data and serve on http://127.0.0.1:8000
	$(BIN)/pos migrate
	$(BIN)/pos demo
	# The virtual printer (:9100, receipts saved under var/printer) and the platform double
	# (:8100) run in the background and stop when the server does.
	trap 'kill $$(jobs -p) 2>/dev/null' EXIT; \
	$(BIN)/pos printer serve --port 9100 --control-port 9101 --out var/printer & \
	$(BIN)/pos platform serve --port 8100 --db var/platform.sqlite3 & \
	POS_PLATFORM_URL=http://127.0.0.1:8100 $(BIN)/pos serve

test: $(BIN)/pos lint typecheck ## ruff, mypy and the whole pytest suite
	$(BIN)/python -m pytest

browser: $(BIN)/pos ## only the browser journeys (Chromium); screenshots in test-artifacts/screenshots
	$(BIN)/python -m pytest -m browser tests/e2e

lint: $(BIN)/pos ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/pos ## mypy --strict on pos/ and printers/
	$(BIN)/mypy

format: $(BIN)/pos ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/pos ## run every benchmark (POS_BENCH_QUICK=1 for a short run)
	@for b in bench/*.py; do echo "== $$b" >&2; $(BIN)/python $$b || exit 1; done

clean: ## remove the virtualenv, caches and the demo database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
