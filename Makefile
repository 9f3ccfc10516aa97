# Two commands do everything: `make run` (the main job) and `make test`.
# Both create .venv on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast test-numpy-only lint format clean notebooks notebook

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "mlp-tiers needs Python 3.10 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,tf,jax,mpi]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlp-tiers compare --dataset digits --epochs 20

# Keras fixes its backend once per process: the first pass runs everything with Keras on
# TensorFlow, then each other installed backend reruns the Keras tests in a pass of its own.
KERAS_TESTS := tests/highlevel_keras tests/shared/test_contract.py tests/test_every_tier.py \
               tests/mlp_tiers/test_parity.py tests/test_regression.py \
               tests/mlp_tiers/test_estimators.py

test: $(STAMP)
	$(BIN)/python -m pytest -n auto
	@for backend in jax torch; do \
	  if $(BIN)/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('$$backend') is None)"; then \
	    echo "== Keras on $$backend"; \
	    KERAS_BACKEND=$$backend $(BIN)/python -m pytest -n auto -k keras $(KERAS_TESTS) || exit 1; \
	  else \
	    echo "== Keras on $$backend: $$backend is not installed, so that pass is skipped"; \
	  fi; \
	done

# The quick loop while working on the code: everything but the end-to-end and slow tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n auto -m "not slow"

# The NumPy tier alone, as `pip install -e .` gives it: no TensorFlow, Keras, JAX or PyTorch.
# The tests that need a framework skip, with their reason; the rest must pass.
NUMPY_VENV := .venv-numpy
test-numpy-only:
	test -x $(NUMPY_VENV)/bin/python || $(PYTHON) -m venv $(NUMPY_VENV)
	$(NUMPY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NUMPY_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(NUMPY_VENV)/bin/python -m pytest -n auto

# The notebooks: `make notebooks` runs every notebooks/NN_*.py (the source, jupytext's percent
# format) top to bottom in a fresh kernel and writes the executed .ipynb beside it;
# `make notebook` opens them in JupyterLab, where each .ipynb stays paired with its source.
NOTEBOOK_STAMP := $(VENV)/.notebooks-stamp
$(NOTEBOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,tf,jax,mpi,notebooks]'
	touch $(NOTEBOOK_STAMP)

notebooks: $(STAMP)
	$(BIN)/python scripts/notebooks

notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(NUMPY_VENV) runs .pytest_cache .ruff_cache
