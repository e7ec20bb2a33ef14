# The two commands of the README:
#   make reproduce   set up .venv and run the whole pipeline (see README for budgets)
#   make test        set up .venv and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATASET ?= ../shared/data/cifar10-subset.npz
DEGRADATION ?= jpeg
BUDGET ?= cpu

.PHONY: setup test test-jax reproduce

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The tests run in parallel, one process per core (at most 4: each holds a backend).
PYTEST := $(PY) -m pytest -q -n auto --maxprocesses 4

test: setup
	$(PYTEST)

# The same suite under the JAX backend (CI runs it after `make test`).
test-jax: setup
	$(PY) -m pip install --quiet -r requirements-jax.txt
	KERAS_BACKEND=jax $(PYTEST)

reproduce: setup
	$(PY) reproduce.py --dataset $(DATASET) --degradation $(DEGRADATION) --recipe $(BUDGET)
