# Every target creates .venv and installs what it needs; safe to run twice.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export HF_HUB_DISABLE_PROGRESS_BARS := 1

.PHONY: install demo test bench stress lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch is pinned exactly: a looser spec pulls several GB of CUDA wheels.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m slackapp.demo

test: install
	$(BIN)/python -m pytest -q

stress: install
	WARDEN_STRESS=1 $(BIN)/python -m pytest -q tests/security

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
