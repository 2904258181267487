# Two set-up commands (README.md): `make demo` and `make test`.
# Both make the same install (.venv, ".[cuda,test]" with the tested pins of constraints.txt) on first
# use; the stamp .venv/.installed redoes it only when pyproject.toml or constraints.txt change.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-fast docs clean

# PYTHONWARNINGS: setuptools announces every editable install (its import hook maps models/,
# protocols/, analysis/ into neuromod); that notice is information, not a warning, so it is hidden.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -c constraints.txt -e ".[cuda,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/neuromod demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# The documentation site (docs/_build/html/index.html): warnings are errors; the gallery runs every
# example in its quick mode (NEUROMOD_QUICK=1). Installs the docs extra on first use.
$(VENV)/.installed-docs: $(VENV)/.installed
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -c constraints.txt -e ".[cuda,test,docs]"
	touch $@

docs: $(VENV)/.installed-docs
	NEUROMOD_QUICK=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/api docs/auto_examples docs/sg_execution_times.rst examples/runs
