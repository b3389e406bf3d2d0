# Two commands for a fresh machine: `make demo` and `make test` (README).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test quick lint format lab browser-check gpu-check clean

# torch is installed first, pinned, so that nothing pulls a CUDA build from the registry.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m facecam_kit demo

# Everything CI checks: lint, then the unit tests and every notebook (papermill), on two workers
# (one thread each: tests/conftest.py; notebook kernels over Unix sockets: tests/test_notebooks.py); the slowest tests are listed at the end.
test: lint
	$(PY) -m pytest -n 2 --dist worksteal --durations=15

# The quick loop: no notebooks.
quick: $(STAMP)
	$(PY) -m pytest -n 2 -m "not notebooks"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# Notebooks 01, 03 and 06 in JupyterLab in headless Chromium (a few minutes; not part of `make test`).
# Needs Debian's chromium: apt-get install chromium. Screenshots go to outputs/browser_check/.
browser-check: $(STAMP)
	$(PY) -m pip install --quiet -e ".[browser]"
	$(PY) tools/browser_check.py

# Every GPU claim of the kit measured on a lent CUDA GPU, at most 8 minutes (README, "On a lent GPU");
# the numbers go to outputs/gpu_check/report.json and docs/benchmarks.md.
# The kit's .venv where there is one, else the machine's python3 with the kit installed: a lent
# machine cannot download, so it does not build the .venv.
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	$(GPU_PY) -m facecam_kit gpu-check

clean:
	rm -rf $(VENV) outputs
