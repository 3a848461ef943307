# Quick start: `make demo` runs the demo, `make test` runs every check. Both set up
# .venv from a clean checkout first (with uv when it is on PATH, else pip).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every side's extra (pyproject.toml) and the test tools; rpi only installs on a Raspberry Pi.
EXTRAS ?= edge,central,sim,dev

.PHONY: demo test lint typecheck pytest clean plate-font

$(STAMP): pyproject.toml
	@if command -v uv >/dev/null 2>&1; then \
		uv venv --python $(PYTHON) $(VENV) && uv pip install --python $(BIN)/python -e '.[$(EXTRAS)]'; \
	else \
		$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'; \
	fi
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lanewarden demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The bundled plate font from a CJK font file (simulators/plate_font.py says how to get one).
plate-font: $(STAMP)
	@test -n "$(SOURCE)" || { echo "give SOURCE=path/to/wqy-microhei.ttc"; exit 2; }
	$(BIN)/python -m simulators.plate_font "$(SOURCE)"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
