# Parity: `make run` starts the whole app, `make test` runs every check.
# Both create .venv and install what they need, including the system libraries.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# Django 6 needs Python 3.12 or newer: take the first interpreter that is new enough,
# from PATH first, then from pyenv's installed versions.
define find_python
for p in python3.14 python3.13 python3.12 python3 \
         $$(command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -rV); do \
  if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then command -v "$$p" || echo "$$p"; break; fi; \
done
endef
PYTHON ?= $(shell $(find_python))

WEASYPRINT_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

.PHONY: run test lint format bench proof install sysdeps browser clean

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "Parity needs Python 3.12 or newer. Install python3.13 (or 3.12) and run make again."; exit 1; fi
	"$(PYTHON)" -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml uv.lock
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv sync --locked --python $(BIN)/python
	touch $@

install: $(VENV)/.installed sysdeps

# Debian package names; installed with apt when they are missing and we are root.
sysdeps:
	@missing=""; for p in $(WEASYPRINT_LIBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Please install:$$missing (apt-get install$$missing)"; exit 1; fi; fi

browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Please install Chromium (apt-get install chromium)"; exit 1; fi; }

run: install
	$(BIN)/python -m tcp.devstack run

test: install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tcp.devstack exec -- sh -c '$(BIN)/mypy . && $(BIN)/python -m pytest $(PYTEST_ARGS)'


lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m tcp.devstack exec -- $(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else echo "Please install wrk (apt-get install wrk)"; exit 1; fi; }
	$(BIN)/python -m tcp.devstack exec -- $(BIN)/python bench/run.py $(BENCH_ARGS)

# Faults survived and load carried, against real processes on 127.0.0.1 (bench/proof.py).
proof: install
	$(BIN)/python -m tcp.devstack exec -- $(BIN)/python bench/proof.py $(PROOF_ARGS)

clean:
	rm -rf $(VENV) .local
