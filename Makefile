# duijie — the README names these targets. `make demo` and `make test` do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup browser demo test soak lint format bench serve clean-venv

setup: $(STAMP) browser
	$(BIN)/duijie model build

# Debian's chromium and a CJK font for the browser tests and screenshots; installed when missing
# and this is root on Debian (browser downloads by test tools fail on these machines).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi -e wqy -e "noto sans cjk"; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || \
	    (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1) || \
	    echo "chromium could not be installed: browser tests will be skipped (or fail with DUIJIE_TEST_BROWSER=1)"; \
	  else echo "chromium missing and not root: install Debian's chromium and fonts-wqy-microhei for the browser tests"; fi; \
	fi

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
	$(BIN)/mypy matcher index web tools scripts

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Measured figures with the baselines they beat, from the same run.
bench: setup
	$(BIN)/duijie eval sts --baselines
	$(BIN)/duijie eval sts --model static
	$(BIN)/duijie eval retrieval
	$(BIN)/duijie bench search --n 100000

# The long checks, with their figures: full e5 parity on all 2,000 abstracts; 100 kill -9 runs
# during imports, index saves and event scheduling; schemathesis and the import/export property
# tests at 100 cases each; the restore drill; on PostgreSQL (DUIJIE_TEST_PG_URL, as .ci/run sets
# it) transactions committing in random order while the index catches up, and two hosts with two
# workers, one killed mid-batch, and a fresh host that encodes nothing; the mixed-workload load
# ramp on a copy of the demo.
soak: setup
	DUIJIE_FULL_PARITY=1 $(BIN)/python -m pytest -q tests/matcher/test_e5_parity.py
	DUIJIE_COMMIT_ORDER_WRITERS=8 DUIJIE_COMMIT_ORDER_ROUNDS=60 $(BIN)/python -m pytest -q -s -p no:warnings tests/matcher/test_commit_order.py tests/test_multiprocess.py -rs
	DUIJIE_CRASH_RUNS=100 $(BIN)/python -m pytest -q -s -p no:warnings tests/matcher/test_indexing.py -k kill
	DUIJIE_FUZZ_EXAMPLES=100 $(BIN)/python -m pytest -q -s -p no:warnings tests/web/test_fuzz_api.py tests/matcher/test_catalog_fuzz.py
	$(BIN)/python -m pytest -q -s -p no:warnings tests/matcher/test_backup.py
	$(BIN)/duijie init
	$(BIN)/duijie demo-data
	$(BIN)/duijie bench web --ramp 4,8,16,32,64 --think 0 --seconds 15

clean-venv:
	rm -rf $(VENV)
