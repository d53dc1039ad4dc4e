# The front door: `make report` and `make test` work on a machine with only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= data/sample/pipeline.toml
DB     ?= data/warehouse.duckdb
STAMP  := $(VENV)/.installed

.PHONY: setup report notebooks test lint format sample bench clean

setup: $(STAMP)

# Reinstall only when the package metadata changes; the install is editable, so code edits need nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

report: setup
	$(BIN)/pipeline-analytics --config $(CONFIG) --db $(DB) run

# Execute the analyst notebooks on $(DB) (each builds the sample itself if it is missing); the
# committed notebooks keep no outputs, so this only proves they run. Open them in JupyterLab.
notebooks: setup
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	cd notebooks && PIPELINE_ANALYTICS_DB=$(abspath $(DB)) ../$(BIN)/jupyter-execute *.ipynb

test: setup
	$(BIN)/python -m pytest -n 2 -q

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

# Benchmarks: sizes 10k and 100k by default; `make bench SIZE=1m` adds the million-deal size.
SIZE ?=
bench: setup
	$(BIN)/python bench/run_bench.py --sizes 10k,100k$(if $(SIZE),$(comma)$(SIZE))

comma := ,

clean:
	rm -rf $(VENV) data/warehouse.duckdb data/warehouse.duckdb.wal data/warehouse.duckdb.lock data/tmp reports .pytest_cache
