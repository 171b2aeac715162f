# duijie — the README names these targets. `make demo` and `make test` do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint format bench serve clean-venv

setup: $(STAMP)

# torch first, from the CPU wheel on this disk (any other spec pulls a multi-GB CUDA build),
# then the project with its dev extras; the stamp re-runs this when pyproject.toml changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/duijie init
	$(BIN)/duijie demo-data
	$(BIN)/duijie serve

serve: setup
	$(BIN)/duijie serve

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy matcher index web

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@echo "no benchmarks yet"

clean-venv:
	rm -rf $(VENV)
