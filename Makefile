# Two commands for a new user: `make demo` and `make test`.
# Both create .venv if missing and install dt1d into it (CPU torch) once.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.dt1d-installed
# Tests and the demo run single-threaded BLAS/torch: 2-core machines slow
# down badly when thread pools fight each other.
THREADS = OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

.PHONY: demo test docs-check install bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

# torch==2.13.0 in the same command as the package picks the CPU wheel; the
# package itself only asks for torch>=2.4.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install "torch==2.13.0" -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(THREADS) $(BIN)/dt1d demo

test: $(STAMP)
	$(THREADS) $(BIN)/python -m pytest

# Builds the docs (warnings as errors) and renders the landing page and the
# gallery index in headless Chromium, failing when a figure does not load;
# installs chromium with apt-get (Debian, as root) when it is missing.
# Screenshots of the checked pages land in docs/_build/browser_check/.
docs-check: $(STAMP)
	$(THREADS) $(BIN)/python docs/_tools/browser_check.py --install

bench: $(STAMP)
	$(BIN)/asv run --python=same --quick --show-stderr

lint: $(STAMP)
	$(BIN)/ruff check dt1d tests benchmarks

clean:
	rm -rf $(VENV) .asv build *.egg-info
