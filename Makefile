# duijie — the README names these targets. `make demo` and `make test` do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test soak lint format bench serve clean-venv

setup: $(STAMP)
	$(BIN)/duijie model build

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

# Measured figures with the baselines they beat, from the same run.
bench: setup
	$(BIN)/duijie eval sts --baselines
	$(BIN)/duijie eval sts --model static
	$(BIN)/duijie eval retrieval
	$(BIN)/duijie bench search --n 100000

# The long checks: full e5 parity on all 2,000 abstracts, then everything else.
soak: setup
	DUIJIE_FULL_PARITY=1 $(BIN)/python -m pytest -q tests/matcher/test_e5_parity.py

clean-venv:
	rm -rf $(VENV)
