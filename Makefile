# `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: venv demo test lint typecheck pytest bench fuzz clean system-deps

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

system-deps:
	@bash scripts/system-deps.sh

test: system-deps lint typecheck pytest

# Peers: stock pysaml2 needs the xmlsec1 binary (Debian package; installed here
# as root if missing). It is never a dependency of the product.
bench: venv
	@command -v xmlsec1 >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q xmlsec1; } \
	  || echo "xmlsec1 missing: stock pysaml2 will be skipped"
	$(BIN)/python benchmarks/acs.py

# The long fuzz run (docs/security.md records its result); CI runs a short one in `make test`.
fuzz: venv
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} $(BIN)/pytest -W error -q -s -p no:cacheprovider tests/test_fuzz.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
