# kgqa: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= demo-store
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test bench demo clean

# Idempotent: the stamp is newer than the lock file and pyproject once installed, so a re-run is instant.
$(BIN)/.kgqa-installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in the lock and installed in this same command (the CPU wheel here)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/.kgqa-installed

demo: install
	$(BIN)/kgqa build demo/corpus --store $(STORE)

run: demo
	$(BIN)/kgqa serve --store $(STORE) --host 127.0.0.1 --port 7860

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/sparql.py

clean:
	rm -rf $(VENV) $(STORE) build *.egg-info
