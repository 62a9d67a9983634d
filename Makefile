# Video Factory. `make demo` makes a video; `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN    := $(VENV)/.installed-run
DEV    := $(VENV)/.installed-dev
BENCH  := $(VENV)/.installed-bench

.PHONY: demo test up lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(RUN) $@

demo: $(RUN)
	$(BIN)/vfo make "Why octopuses have three hearts" --brief-file samples/octopus.md --out output

# The board's browser tests drive Debian's Chromium (never a browser a test tool downloads).
CHROMIUM := $(shell command -v chromium 2>/dev/null)

test: $(DEV)
ifeq ($(CHROMIUM),)
	@echo "installing Debian's chromium for the browser tests"
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q --no-install-recommends chromium >/dev/null
endif
	$(BIN)/pytest

up: $(RUN)
	$(BIN)/vfo up

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(RUN) $(DEV) $@

bench: $(BENCH)
	$(BIN)/python -m benchmarks.pipeline
	$(BIN)/python -m benchmarks.pipeline --jobs 1000
	$(BIN)/python -m benchmarks.projector
	$(BIN)/python -m benchmarks.render
	$(BIN)/python -m benchmarks.render --ken-burns --name render_ken_burns --reference-seconds 0
	$(BIN)/python -m benchmarks.render --music calm --name render_music --reference-seconds 0
	$(BIN)/python -m benchmarks.render --ken-burns --music calm --name render_ken_burns_music --reference-seconds 0
	$(BIN)/python -m benchmarks.board_latency

clean:
	rm -rf $(VENV) var output .pytest_cache .ruff_cache .mypy_cache
