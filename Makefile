# arcsec_flask: `make run` serves, `make test` tests. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 4
# Threads: each request in progress holds one (behind nginx, which reads a body whole
# first, a slow client holds none); a worker accepts no more connections than it has
# threads, and keeps none alive (deploy/gunicorn.conf.py says why).
THREADS ?= 8
export ARCSEC_DATA_DIR ?= $(CURDIR)/instance

.PHONY: run test lint format bench venv init clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

init: venv
	$(BIN)/arcsec-flask init-db
	@$(BIN)/python scripts/first_run.py --url http://$(HOST):$(PORT)/

run: init
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --worker-class gthread \
		--threads $(THREADS) --worker-connections $(THREADS) --keep-alive 0 --timeout 0 \
		--control-socket $(ARCSEC_DATA_DIR)/gunicorn.ctl \
		--access-logfile - 'wsgi:app'

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	@# Every script runs (each prints its RATIO lines); the status says whether any missed.
	@status=0; for script in bench/*.py; do name=$$(basename $$script .py); \
		[ "$$name" = __init__ ] && continue; echo "== bench.$$name"; \
		$(BIN)/python -m bench.$$name || status=1; done; exit $$status

clean:
	rm -rf $(VENV) build dist *.egg-info
