# The two commands the README starts with: `make demo` and `make test`.
# Both create their own virtual environment on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

$(VENV)/.docs-installed: $(VENV)/.installed setup.cfg
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

.PHONY: install system-deps demo test test-slow lint benchmarks bench bench-peers docs docs-serve tutorials
install: $(VENV)/.installed

# Fashion-MNIST comes from Debian's dataset-fashion-mnist package.
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(PY) -m tfvb demo --out demo

test: install system-deps
	$(PY) -m pytest -m "not slow" -q -p no:cacheprovider

# ruff with the settings in pyproject.toml (line length 120; pycodestyle, pyflakes, imports, bugbear).
lint: install
	$(VENV)/bin/ruff check .

test-slow: install system-deps
	bash scripts/system-deps.sh browser
	$(PY) -m pytest -m slow -q -p no:cacheprovider

# The documentation site, built into site/ in strict mode (any warning fails the build).
docs: $(VENV)/.docs-installed
	$(VENV)/bin/properdocs build -f mkdocs.yml --strict

# Serve it at http://127.0.0.1:8000, rebuilding on every change.
docs-serve: $(VENV)/.docs-installed
	$(VENV)/bin/properdocs serve -f mkdocs.yml -a 127.0.0.1:8000

# Re-run the tutorials (docs/tutorials/*.py) and refresh the outputs and pictures their pages show.
tutorials: install
	$(PY) docs/_gen/run_tutorials.py

# Every speed benchmark in one run, the matmul peak measured beside them: benchmarks/results/summary.{json,md}
bench: install
	$(PY) benchmarks/run_all.py

# tfvb side by side with pythae, bayesian-torch and a plain PyTorch loop: benchmarks/results/peers.{json,md}.
# The peers live in their own environment ($(PEERS_VENV)), never in tfvb's: torch 2.13.0 is the CPU build
# pip finds on this machine's disk for Python 3.11 (a plain `torch` would pull a CUDA build of several GB).
PEERS_VENV ?= .venv-peers
$(PEERS_VENV)/.installed: benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q -r benchmarks/peers/requirements.txt
	touch $@

bench-peers: install $(PEERS_VENV)/.installed
	$(PY) benchmarks/peers/run.py --peers-python $(PEERS_VENV)/bin/python
