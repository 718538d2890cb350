# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test train bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,accurate,numba]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reciprocity analyze examples/conversations.csv --out out --seed 7

test: $(STAMP)
	$(BIN)/python -m pytest -q

train: $(STAMP)
	$(BIN)/reciprocity train --data ../shared/data

bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python bench/detector.py
	$(BIN)/python bench/detector_ceiling.py

clean:
	rm -rf $(VENV) out .pytest_cache
