# seqconv: `make train` and `make test` work on a fresh clone (they create .venv with pip first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup train test test-fast lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## train the default experiment (TimeSeriesCNN on the built-in S&P 500); pass options with ARGS="model=tcn ..."
train: setup
	$(PY) train.py $(ARGS)

# tests run in PYTEST_WORKERS processes (pytest-xdist), each test file in one of them (its module fixtures are
# built once); PYTEST_WORKERS=0 runs everything in this process
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

## the whole test suite, slow tests included (what CI runs)
test: setup
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

## the suite without the slow end-to-end tests
test-fast: setup
	$(PY) -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests scripts *.py
	$(VENV)/bin/ruff format --check src tests scripts *.py

clean:
	rm -rf $(VENV) logs .pytest_cache

## build the CPU and CUDA images (needs a Docker engine): seqconv:cpu and seqconv:cuda
.PHONY: docker
docker:
	docker build -f docker/Dockerfile.cpu -t seqconv:cpu .
	docker build -f docker/Dockerfile.cuda -t seqconv:cuda .
