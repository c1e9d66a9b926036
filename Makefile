# The two commands a newcomer needs:  make demo  and  make test.
# Each creates its own virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= demo.db
# The spark extra (PySpark) too, so that `make test` runs the Spark engine's test on local Spark
# (it needs Java 17+ as well: .ci/run installs Debian's default-jre-headless where it is missing).
# EXTRAS=dev installs without it; that test then skips, outside CI.
EXTRAS ?= dev,spark

.PHONY: demo test lint typecheck check bench clean browser loadgen

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arrears demo --db $(DEMO_DB)

# The browser tests drive Debian's chromium (and show Chinese with Debian's Noto CJK fonts).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; }

# The API benchmark's load generator is Debian's wrk.
loadgen:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }

test: $(STAMP) browser
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# Every benchmark at the sizes the issues name (about half an hour on 2 cores); figures and the
# command lines are in BENCHMARKS.md. BENCH_QUICK=1 runs small sizes to check they work.
bench: $(STAMP) loadgen
ifdef BENCH_QUICK
	$(BIN)/python bench/bench_kernel.py --quick
	$(BIN)/python bench/bench_close_e2e.py --loans 20000 --reference-loans 5000
	$(BIN)/python bench/bench_credit.py --loans 2000 --sample 20
	$(BIN)/python bench/bench_api.py --quick
	$(BIN)/python bench/bench_statements.py
	$(BIN)/python bench/bench_spark.py --quick
	$(BIN)/python bench/bench_sealed.py --quick
else
	$(BIN)/python bench/bench_kernel.py
	$(BIN)/python bench/bench_close_e2e.py
	$(BIN)/python bench/bench_credit.py --workers 2
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_statements.py
	$(BIN)/python bench/bench_spark.py
	$(BIN)/python bench/bench_sealed.py
endif

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
