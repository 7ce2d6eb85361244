# Molodets: one command runner. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export MOLODETS_DATA_DIR ?= ./var

.DEFAULT_GOAL := help

$(BIN)/molodets: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: install
install: $(BIN)/molodets ## create .venv and install Molodets with its dev tools

.PHONY: run
run: install ## migrate, seed demo content on an empty database, and serve on http://$(HOST):$(PORT)
	$(BIN)/molodets migrate
	$(BIN)/molodets demo --if-empty
	$(BIN)/molodets serve --host $(HOST) --port $(PORT)

.PHONY: cluster
cluster: install ## scale-out mode on this machine: S3, 2 web, 2 workers, nginx (PostgreSQL + Redis running)
	$(BIN)/molodets cluster

.PHONY: lint
lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

.PHONY: test
test: lint ## lint, then the whole test suite (SQLite; PostgreSQL/Redis when MOLODETS_DATABASE_URL/REDIS_URL are set)
	$(BIN)/pytest -q

.PHONY: bench
bench: install ## run the benchmarks (they print figures and ratios against a baseline)
	$(BIN)/python benchmarks/http_requests.py
	$(BIN)/python benchmarks/transcode.py
	$(BIN)/python benchmarks/player.py
	$(BIN)/python benchmarks/events.py
	$(BIN)/python benchmarks/social.py
	$(BIN)/python benchmarks/recommender.py

.PHONY: load
load: install ## load test a real server (docs/load.md); LOAD_SCENARIOS="foryou mixed soak" LOAD_ARGS="--mode cluster"
	@for scenario in $(or $(LOAD_SCENARIOS),foryou mixed); do \
		$(BIN)/python benchmarks/load.py --scenario $$scenario $(LOAD_ARGS) || exit 1; \
	done

.PHONY: sim
sim: install ## the For You simulator: the recommender against baselines on users with known tastes
	$(BIN)/python -m benchmarks.feedsim

.PHONY: format
format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

.PHONY: messages
messages: install ## extract translatable strings and update the ru/en catalogs
	$(BIN)/pybabel extract -F src/molodets/web/babel.cfg -k N_ -k NP_:1,2 -k ncount:2,3 --sort-by-file \
		--project=Molodets --copyright-holder="Molodets contributors" \
		-o src/molodets/web/translations/messages.pot src/molodets
	$(BIN)/pybabel update -i src/molodets/web/translations/messages.pot -d src/molodets/web/translations \
		-D messages --no-fuzzy-matching --ignore-obsolete

.PHONY: clean
clean: ## remove the virtualenv, caches and local data (./var)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
