# kgqa: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= demo-store
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test bench bench-sparql bench-rules bench-re bench-redocred bench-demo bench-throughput bench-metaqa bench-textqa bench-gnn bench-linkpred demo clean

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

# Benchmarks print tables and never assert; DATA defaults to ../shared/data. `make bench` runs them
# all (hours on 2 cores); each also has its own target.
DATA ?= ../shared/data
BENCH := nice -n 10 $(BIN)/python

bench: bench-sparql bench-rules bench-re bench-redocred bench-demo bench-throughput bench-metaqa bench-textqa bench-gnn bench-linkpred

bench-sparql: install
	$(BENCH) bench/sparql.py --triples 1000000 --seed 7 --repeat 5 --memory
bench-rules: install
	$(BENCH) bench/rules.py --sizes 20000 100000 --timeout 600
bench-re: install
	$(BENCH) bench/conll04.py --data $(DATA) --model nlp/models/conll04_minilm --threads 1
bench-redocred: install
	$(BENCH) bench/redocred.py --data $(DATA)
	$(BENCH) bench/redocred.py --data $(DATA) --fast --no-questions
bench-demo: install
	$(BENCH) bench/demo.py
bench-throughput: install
	$(BENCH) bench/throughput.py --data $(DATA) --limit 300 --repeat 3
bench-metaqa: install
	$(BENCH) bench/metaqa.py --data $(DATA) --limit 1000
	$(BENCH) bench/metaqa.py --data $(DATA) --examples 1000
bench-textqa: install
	$(BENCH) bench/textqa.py
bench-gnn: install
	$(BENCH) bench/gnn_metaqa.py --data $(DATA) --limit 1000 --questions 18000 --epochs 6 --time-budget 3000 --threads 1
bench-linkpred: install
	$(BENCH) bench/linkpred.py --data $(DATA) --dataset fb15k-237 --time-budget 1200 --dim 200 --threads 1
	$(BENCH) bench/linkpred.py --data $(DATA) --dataset wn18rr --time-budget 1200 --dim 128 --lr 0.005 --threads 1

clean:
	rm -rf $(VENV) $(STORE) build *.egg-info
