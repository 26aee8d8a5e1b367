# fieldsurvey: the two commands README promises, on a fresh machine.
#   make demo   generate the synthetic coalition study and run every stage on it
#   make test   lint and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fieldsurvey-installed
DEMO_DIR ?= demo-study

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fieldsurvey demo $(DEMO_DIR)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports

test: $(STAMP) lint
	$(PY) -m pytest -q

bench: $(STAMP)
	for script in bench/*_bench.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
