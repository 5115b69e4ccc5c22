# Every target creates .venv and installs what it needs; safe to run twice.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export HF_HUB_DISABLE_PROGRESS_BARS := 1

.PHONY: install demo test bench stress lint clean chromium

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

# The report's browser test needs Debian's chromium. Installed when missing and we may (root,
# apt-get); otherwise, or if apt fails, that one test skips and says why. Safe to run twice.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the report's browser test"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
			>/dev/null 2>&1 \
		|| (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1)) \
		|| echo "chromium could not be installed; the report's browser test will skip"; \
	else \
		echo "chromium missing (not root or no apt-get); the report's browser test will skip"; \
	fi

test: install chromium
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
