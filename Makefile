# The README's commands. Needs only Python >= 3.11 on PATH (as python3, or PYTHON=...).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INI ?= development.ini

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/camauth $(INI) initdb
	$(BIN)/pserve $(INI)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check camauth tests bench alembic
	$(BIN)/ruff format --check camauth tests bench alembic
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/authenticated_view.py

clean:
	rm -rf $(VENV) var camauth.sqlite* dist build
