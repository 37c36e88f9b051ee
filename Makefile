# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make serve   create .venv if needed, prepare the store with demo content, serve the workbooks
#   make test    create .venv if needed (and Debian's chromium and postgresql when missing), run
#                every test (the store tests on SQLite and on a PostgreSQL server of their own),
#                then every benchmark in its small configuration (make bench-smoke); the type
#                check (make typecheck) runs beside the benchmarks' smoke run
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest workers: one per core; each test file runs whole on one worker (its module fixtures
# once), with its own scratch store, Voilà server and PostgreSQL cluster
TEST_WORKERS ?= auto

.PHONY: serve test pytest typecheck bench bench-smoke check clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv resolves to the same releases as pip and installs them, bytecode included, in a third
	# of pip's time (measured: 32 s against 93 s on 2 cores): CI pays for this on every run
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[test,postgres]'
	# the project's own bytecode, written once: where PYTHONDONTWRITEBYTECODE is set (CI), every
	# kernel and test process would otherwise compile cop_widgets again (~0.1 CPU-s each)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q cop_widgets
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/cop serve

# mypy (~20 s on one core, cold) runs beside the benchmarks' smoke run, which leaves about half
# of the cores idle, not beside pytest, which keeps both busy: either failing fails `make test`
test: $(STAMP)
	bash scripts/ensure-chromium
	bash scripts/ensure-hub-proxy
	bash scripts/ensure-postgresql
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory -j2 typecheck bench-smoke

# -p tests.fast_start: loaded before nbval's plugin, it spares each pytest process 2.9 s
pytest: $(STAMP)
	$(BIN)/python -m pytest -p tests.fast_start -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# mypy over cop_widgets/ ([tool.mypy] in pyproject.toml: strict for store/ and services/)
typecheck: $(STAMP)
	$(BIN)/python -m mypy

bench: $(STAMP)
	bash scripts/ensure-chromium
	$(BIN)/python benchmarks/bench_pages.py
	$(BIN)/python benchmarks/bench_review_queue.py
	$(BIN)/python benchmarks/bench_saves.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_room.py
	$(BIN)/python benchmarks/bench_library.py
	$(BIN)/python benchmarks/bench_hub_room.py

# Every benchmark, small (a room of 2, 1 load, 1,000 rows, 1 report): fails only when one
# breaks (an exception, a non-zero exit), never on a timing. `make test` runs it.
# The longest first, four at a time, each one's output kept together: they wait more than they
# compute (two at a time used about half of 2 cores; 145 s, four at a time 135 s, 30 Nov).
SMOKE_BENCHMARKS := hub_room room reports library pages saves review_queue

bench-smoke: $(STAMP)
	bash scripts/ensure-chromium
	$(MAKE) --no-print-directory -j4 --output-sync=target $(SMOKE_BENCHMARKS:%=smoke-%)

smoke-%: $(STAMP)
	$(BIN)/python benchmarks/bench_$*.py --smoke

check: $(STAMP)
	$(BIN)/cop check

clean-venv:
	rm -rf $(VENV)
