# Two commands on a fresh machine: `make demo` and `make test`. Each builds or refreshes .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv demo test lint docs bench bench-hardening matrix matrix-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flakymirror replay scenarios/

test: $(STAMP)
	$(VENV)/bin/ruff check flakymirror tests benchmarks conftest.py
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check flakymirror tests benchmarks conftest.py

# the site (docs/, mkdocs.yml) into site/; any warning is an error
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# the benchmarks; the results page of the docs is this run's
bench: $(STAMP)
	$(PY) benchmarks/run.py --page docs/results/benchmarks.md \
		--only startstop,replay,startup,manifest,blob,mirror,xdist

# the hardening probes, flakymirror beside distribution 2.8.2; the page of the docs is this run's
bench-hardening: $(STAMP)
	$(PY) benchmarks/hardening.py --page docs/results/hardening.md

# the incident library x the shipped clients, against the baseline; writes docs/matrix.md
matrix: $(STAMP)
	$(PY) benchmarks/matrix.py

# the same check for CI: the page goes to benchmarks/results/ (not committed)
matrix-check: $(STAMP)
	$(PY) benchmarks/matrix.py --out benchmarks/results/matrix.md

clean:
	rm -rf $(VENV) build dist *.egg-info
