# `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: venv demo test lint typecheck pytest bench bench-compare fuzz mutation clean system-deps dist

# The first run downloads about 60 packages (the test tools too): pip shows each one.
$(BIN)/saml-middleware: pyproject.toml
	@echo "== creating $(VENV) with $(PYTHON) and installing saml-middleware and its dev tools (first time: 1-2 minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	@echo "== $(VENV) is ready"
	touch $@

venv: $(BIN)/saml-middleware

# make demo ARGS="--port 8010 --idp-port 8011" when 8000 or 8001 is taken;
# make demo ARGS=--tenants: two companies signing in to two tenants (docs/tenants.md)
demo: venv
	$(BIN)/saml-middleware demo $(ARGS)

lint: venv
	$(BIN)/ruff check saml_middleware tests examples benchmarks
	$(BIN)/ruff format --check saml_middleware tests examples benchmarks

typecheck: venv
	$(BIN)/mypy saml_middleware benchmarks

pytest: venv
	$(BIN)/pytest -W error -q

# dist/saml_middleware-<version>.tar.gz and dist/saml_middleware-<version>-py3-none-any.whl
# (the wheel built from the sdist); `pip install dist/*.whl` in any virtualenv.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	@ls -l dist

system-deps:
	@bash scripts/system-deps.sh

test: system-deps lint typecheck pytest

# Peers live in their own virtualenv (.benchvenv: the project, python3-saml, pyinstrument,
# uvicorn's httptools/uvloop), never in the product's dependencies. Stock pysaml2 needs
# the xmlsec1 binary and the load generator is wrk (Debian packages; installed here as
# root if missing; without wrk, benchmarks/load.py makes the load).
BENCHVENV ?= .benchvenv
$(BENCHVENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCHVENV)
	$(BENCHVENV)/bin/pip install --quiet --upgrade pip
	$(BENCHVENV)/bin/pip install --quiet -e . python3-saml pyinstrument httptools uvloop
	touch $@

bench: $(BENCHVENV)/.installed
	@for bin in xmlsec1 wrk; do command -v $$bin >/dev/null || { [ "$$(id -u)" = 0 ] \
	  && apt-get update -q && apt-get install -y -q $$bin; } || echo "$$bin missing: its rows are skipped or slower"; done
	$(BENCHVENV)/bin/python benchmarks/run.py
	$(BENCHVENV)/bin/python benchmarks/memory.py

# make bench-compare BASE=<git-rev>: the acs and hot tables of BASE and of this tree in
# alternating rounds, medians and ratios per row (docs/performance.md)
bench-compare: $(BENCHVENV)/.installed
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<git-rev>"; exit 2; }
	$(BENCHVENV)/bin/python benchmarks/compare.py --base $(BASE)

# The long fuzz run (docs/security.md records its result); CI runs a short one in `make test`.
fuzz: venv
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} $(BIN)/pytest -W error -q -s -p no:cacheprovider tests/security/test_fuzz.py

# Mutation testing of the security core (docs/security.md, "Mutation testing"): mutmut (the
# `mutation` extra, never in `make test`), one module at a time, each mutant against the tests
# of [tool.mutmut] that call it. MUTATION_MODULES picks modules; MUTATION_SAMPLE=N runs a seeded
# sample of N mutants per module (protocol/checks.py alone has 656). Results stay in mutants/.
MUTATION_MODULES ?= paths sessions.cookies protocol.xml protocol.signatures protocol.identity protocol.attributes sessions.cookie protocol.checks
MUTATION_SAMPLE ?=
$(BIN)/mutmut: pyproject.toml | venv
	$(BIN)/pip install --quiet -e '.[mutation]'
	touch $@

mutation: $(BIN)/mutmut
	@# a sample is drawn from the generated mutants: the first run generates them and collects which
	@# tests call what (mutmut then stops, as no mutant is named `none`; its log in mutants/setup.log)
	@[ -z "$(MUTATION_SAMPLE)" ] || [ -f mutants/mutmut-stats.json ] || { mkdir -p mutants; \
	  nice $(BIN)/mutmut run saml_middleware.none > mutants/setup.log 2>&1; \
	  [ -f mutants/mutmut-stats.json ] || { tail -30 mutants/setup.log; exit 1; }; }
	@for m in $(MUTATION_MODULES); do \
	  names="saml_middleware.$$m.*"; \
	  [ -z "$(MUTATION_SAMPLE)" ] || names=$$($(BIN)/python scripts/mutation_report.py --sample $(MUTATION_SAMPLE) $$m) || { echo "$$names"; exit 1; }; \
	  nice $(BIN)/mutmut run $$names || exit 1; \
	done
	$(BIN)/python scripts/mutation_report.py --survivors

clean:
	rm -rf mutants $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
