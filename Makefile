# `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: venv demo test lint typecheck pytest bench clean

$(BIN)/saml-middleware: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/saml-middleware

demo: venv
	$(BIN)/saml-middleware demo

lint: venv
	$(BIN)/ruff check saml_middleware tests examples benchmarks
	$(BIN)/ruff format --check saml_middleware tests examples benchmarks

typecheck: venv
	$(BIN)/mypy saml_middleware

pytest: venv
	$(BIN)/pytest -W error -q

test: lint typecheck pytest

bench: venv
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/acs.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
