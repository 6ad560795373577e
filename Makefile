# Needs — make help lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-lock
PEOPLE ?= 75000
SEED ?= 0
RAW ?= data/raw

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the exact pins of requirements.lock

AS_OF ?= 2024-12-31
FIRST_SNAPSHOT ?= 2021-04-30
LAST_SNAPSHOT ?= 2025-09-30

run: $(STAMP) ## Main job: simulate the demo province (reused if present), validate, link, features, train, promote, score, monitor, report, serve
	@if [ -f $(RAW)/_SUCCESS ]; then \
	  echo "Reusing the simulated province in $(RAW) (delete it to simulate again)."; \
	  if [ -n "$$(find src/needs_model/twin -name '*.py' -newer $(RAW)/_SUCCESS)" ]; then \
	    echo "Note: the twin's code changed after $(RAW) was simulated; delete $(RAW) to see the change."; \
	  fi; \
	else \
	  $(BIN)/needs-model simulate --people $(PEOPLE) --seed $(SEED) --out $(RAW); \
	fi
	$(BIN)/needs-model validate $(RAW)
	$(BIN)/needs-model link --raw $(RAW) --as-of $(AS_OF) --out data/linked/$(AS_OF)
	@if [ -f data/features/.complete-$(FIRST_SNAPSHOT)-$(LAST_SNAPSHOT) ] && [ data/features/.complete-$(FIRST_SNAPSHOT)-$(LAST_SNAPSHOT) -nt $(RAW)/_SUCCESS ] \
	    && [ -z "$$(find src/needs_model/catalogue src/needs_model/extracts src/needs_model/linking src/needs_model/features -name '*.py' -newer data/features/.complete-$(FIRST_SNAPSHOT)-$(LAST_SNAPSHOT))" ]; then \
	  echo "Reusing the feature snapshots in data/features (newer than the extracts and the code that builds them)."; \
	else \
	  $(BIN)/needs-model features --raw $(RAW) --as-of $(FIRST_SNAPSHOT) --through $(LAST_SNAPSHOT) --out data/features \
	  && touch data/features/.complete-$(FIRST_SNAPSHOT)-$(LAST_SNAPSHOT); \
	fi
	$(BIN)/needs-model train --features data/features --raw $(RAW)
	$(BIN)/needs-model promote
	$(BIN)/needs-model score --raw $(RAW)
	$(BIN)/needs-model monitor
	$(BIN)/needs-model report
	@$(MAKE) --no-print-directory serve

SERVE_KEY ?= data/service/make-serve.key

serve: $(STAMP) ## Serve the API on http://127.0.0.1:8000 with the newest scored snapshot (a fresh 12-hour admin key in data/service/make-serve.key)
	@$(BIN)/needs-model keys create --role admin --scope province --label "make serve" --expires 12h --out $(SERVE_KEY)
	@echo 'Call it with: curl -H "Authorization: Bearer $$(cat $(SERVE_KEY))" http://127.0.0.1:8000/v1/services'
	@echo "Serving http://127.0.0.1:8000 (OpenAPI at /docs). Ctrl-C stops it."
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/uvicorn api.main:app --host 127.0.0.1 --port 8000 --no-server-header

test: $(STAMP) ## Run the whole default test suite
	$(BIN)/python -m pytest -q

test-slow: $(STAMP) ## Run the slow suite (larger provinces, two passes of the pipeline)
	$(BIN)/python -m pytest -q -m slow

test-fuzz: $(STAMP) ## Fuzz the API with schemathesis: every operation as every role and with no or bad keys (seeded)
	$(BIN)/python -m pytest -q -m fuzz

test-browser: $(STAMP) ## The docs pages in a real browser (Debian's chromium: apt-get install chromium)
	NEEDS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -m browser

test-notebooks: $(STAMP) ## Execute the notebooks on the small test province (isolated MLflow store and models)
	$(BIN)/python -m pytest -q -m notebooks

NOTEBOOKS := $(wildcard notebooks/*.ipynb)

NOTEBOOK_KEY ?= data/service/notebooks.key

notebooks: $(STAMP) ## Execute every notebook on the demo province (make run first); executed copies in reports/notebooks/
	@mkdir -p reports/notebooks
	@$(BIN)/needs-model keys create --role auditor --scope province --label "make notebooks" --expires 1h --out $(NOTEBOOK_KEY)
	@for nb in $(NOTEBOOKS); do \
	  echo "$$nb"; \
	  NEEDS_KEY="$$(cat $(NOTEBOOK_KEY))" $(BIN)/papermill --cwd . --no-progress-bar "$$nb" "reports/notebooks/$$(basename $$nb)" || exit 1; \
	done

lab: $(STAMP) ## JupyterLab on notebooks/ with the project's environment (and how to open MLflow beside it)
	@echo "MLflow beside it: $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --port 5000"
	$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser $$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check src api tests bench notebooks
	$(BIN)/ruff format --check src api tests bench notebooks
	$(BIN)/mypy

docs: $(STAMP) ## Regenerate docs/data-contract.md and docs/features.md
	$(BIN)/needs-model contract-docs --out docs/data-contract.md
	$(BIN)/needs-model features-docs --out docs/features.md

bench: $(STAMP) ## Benchmarks (twin, link + features, training, scoring, API on the demo); writes bench/results/
	$(BIN)/python bench/bench_simulate.py
	$(BIN)/python bench/bench_features.py --raw $(RAW) --repeats 3
	$(BIN)/python bench/quality_link_consistency.py --raw $(RAW)
	$(BIN)/python bench/bench_train.py --features data/features --raw $(RAW) --repeats 3
	$(BIN)/python bench/bench_score.py --raw $(RAW) --repeats 3
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/bench_api.py

FULL ?= data/full
FULL_PEOPLE ?= 1500000
# Everything the full-province evaluation writes stays under $(FULL): the demo's models,
# registry and reports are untouched.
FULL_ENV := NEEDS_RAW_DIR=$(FULL)/raw NEEDS_FEATURES_DIR=$(FULL)/features NEEDS_MODELS_DIR=$(FULL)/models \
  NEEDS_REPORTS_DIR=$(FULL)/reports NEEDS_MLFLOW_TRACKING_URI=sqlite:///$(FULL)/mlflow.db \
  NEEDS_MLFLOW_ARTIFACT_ROOT=$(FULL)/artifacts

evaluate-full: $(STAMP) ## The README's full-province tables: simulate 1.5 M people, 54 snapshots, train (full setting), promote, the tables, and an unseen seed (~1.5 h, ~15 GiB)
	@test -f $(FULL)/raw/_SUCCESS || $(BIN)/needs-model simulate --people $(FULL_PEOPLE) --seed $(SEED) --out $(FULL)/raw
	@if [ -f $(FULL)/features/.complete ] && [ $(FULL)/features/.complete -nt $(FULL)/raw/_SUCCESS ] \
	    && [ -z "$$(find src/needs_model/catalogue src/needs_model/extracts src/needs_model/linking src/needs_model/features -name '*.py' -newer $(FULL)/features/.complete)" ]; then \
	  echo "Reusing the feature snapshots in $(FULL)/features."; \
	else \
	  $(FULL_ENV) $(BIN)/needs-model features --raw $(FULL)/raw --as-of $(FIRST_SNAPSHOT) --through $(LAST_SNAPSHOT) \
	    --out $(FULL)/features && touch $(FULL)/features/.complete; \
	fi
	$(FULL_ENV) $(BIN)/needs-model train --features $(FULL)/features --raw $(FULL)/raw
	$(FULL_ENV) $(BIN)/needs-model promote
	$(BIN)/python bench/evaluation_table.py $(FULL)/reports | tee $(FULL)/evaluation.md
	$(BIN)/python bench/evaluation_table.py $(FULL)/reports --planning | tee $(FULL)/planning.md
	$(FULL_ENV) $(BIN)/python bench/evaluate_unseen.py --models $(FULL)/models --people $(FULL_PEOPLE) \
	  --seed $$(( $(SEED) + 1 )) --trained-seed $(SEED) --out $(FULL)/unseen --keep

lock: ## Re-pin requirements.lock from the current .venv (after a deliberate upgrade)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^needs-model' > requirements.lock

clean: ## Remove the environment and generated data (keeps the READMEs)
	rm -rf $(VENV) $(RAW)

.PHONY: help venv run serve test test-slow test-fuzz test-browser test-notebooks notebooks lab lint docs bench evaluate-full lock clean
