# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make serve   create .venv if needed, prepare the store with demo content, serve the workbooks
#   make test    create .venv if needed (and Debian's chromium when missing), run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test bench check clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/cop serve

test: $(STAMP)
	bash scripts/ensure-chromium
	bash scripts/ensure-hub-proxy
	$(BIN)/python -m pytest

bench: $(STAMP)
	bash scripts/ensure-chromium
	$(BIN)/python benchmarks/bench_reflection.py
	$(BIN)/python benchmarks/bench_review_queue.py
	$(BIN)/python benchmarks/bench_saves.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_room.py

check: $(STAMP)
	$(BIN)/cop check

clean-venv:
	rm -rf $(VENV)
