# The front door: `make report` and `make test` work on a machine with only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= data/sample/pipeline.toml
DB     ?= data/warehouse.duckdb
STAMP  := $(VENV)/.installed
# Exact versions and hashes of every dependency (dev tools included); `make lock` writes it.
LOCK   := requirements.lock

.PHONY: setup lock report notebooks test test-fast lint format sample bench clean

setup: $(STAMP)

# Reinstall only when the lock or the package metadata changes; the install is editable, so code
# edits need nothing. --require-hashes refuses any file whose hash the lock does not list.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Rewrite the lock from pyproject.toml's ranges, keeping each pinned version that still fits them
# (`make lock UPGRADE=1` takes the newest versions instead). For every platform, Python >= 3.11.
# Needs only uv (locked among the dev tools), so it works with a stale, broken or deleted lock.
UPGRADE ?=
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --universal --python-version 3.11 \
		--generate-hashes $(if $(UPGRADE),--upgrade) --quiet -o $(LOCK)

report: setup
	$(BIN)/pipeline-analytics --config $(CONFIG) --db $(DB) run

# Execute the analyst notebooks on $(DB) (each builds the sample itself if it is missing); the
# committed notebooks keep no outputs, so this only proves they run. Open them in JupyterLab.
notebooks: setup
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	cd notebooks && PIPELINE_ANALYTICS_DB=$(abspath $(DB)) ../$(BIN)/jupyter-execute *.ipynb

# The whole suite: the CI command.
test: setup
	$(BIN)/python -m pytest -n 2 -q

# The edit loop: everything but the end-to-end tests marked slow (under a minute on 2 cores).
test-fast: setup
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

lint: setup
	$(BIN)/ruff check pipeline_analytics tests bench
	$(BIN)/ruff format --check pipeline_analytics tests bench
	$(BIN)/sqlfluff lint sql

format: setup
	$(BIN)/ruff check --fix pipeline_analytics tests bench
	$(BIN)/ruff format pipeline_analytics tests bench
	$(BIN)/sqlfluff fix sql

# Regenerate the bundled sample from the simulator (deterministic: same seed, same files).
sample: setup
	$(BIN)/pipeline-analytics sample --out data/sample --deals 4000 --seed 7
	$(BIN)/python -m pipeline_analytics.sample.renderings --out data/sample --deals 1000 --seed 7

# Benchmarks: sizes 10k and 100k by default; `make bench SIZE=1m` adds the million-deal size,
# `make bench SIZE=10m` the 10M-deal one (~100M history rows, 6.2 GB of CSV, each step once, plus
# `build --engine spark` in local mode; one to two hours on 2 cores); SPARK=1 times the Spark
# build at every size. See docs/performance.md.
SIZE  ?=
SPARK ?=
bench: setup
	$(BIN)/python bench/run_bench.py --sizes 10k,100k$(if $(SIZE),$(comma)$(SIZE))$(if $(SPARK), --spark)

comma := ,

clean:
	rm -rf $(VENV) data/warehouse.duckdb data/warehouse.duckdb.wal data/warehouse.duckdb.lock data/tmp reports .pytest_cache
