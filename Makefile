# The two commands a user types: `make compare` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# PyTorch publishes its CPU-only wheels on its own index. Without it, `pip install torch` on Linux resolves
# to the CUDA build and several GB of NVIDIA packages. Where PyPI's torch is already CPU-only (macOS,
# Windows) or to use a mirror, override it: `make install TORCH_INDEX_URL=` (PyPI only) or
# `make install TORCH_INDEX_URL=https://mirror.example/whl/cpu`. constraints.txt pins the exact versions.
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
INDEX_ARGS := $(if $(strip $(TORCH_INDEX_URL)),--extra-index-url $(TORCH_INDEX_URL))

.PHONY: install compare test lint bench trust browser clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(INDEX_ARGS) -c constraints.txt -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

compare: install
	$(PY) -m regcompare run cases --out reports

lint: install
	$(PY) -m ruff check regcompare tests

# Chromium and its driver for the report's browser tests, from Debian/Ubuntu's apt (no browser download at
# run time). Without apt (macOS, Fedora, …) this says what is missing and goes on: the browser tests then
# skip, with the reason, locally; in CI (CI=true, apt available) they always run.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then bash tools/install-chromium.sh; \
	else echo "make browser: chromium and chromedriver are missing and there is no apt-get here."; \
	     echo "  Install both with your package manager (Fedora: dnf install chromium chromedriver;"; \
	     echo "  macOS: brew install --cask chromium chromedriver), or point CHROMIUM and CHROMEDRIVER at them."; \
	     echo "  Until then the browser tests (tests/test_report_browser.py) are skipped; CI runs them."; fi

# pytest exits 5 when it collects nothing: make treats that as the failure it is.
test: install lint browser
	$(PY) -m pytest

# `make bench BENCH_ARGS=--quick` skips the largest suites; BENCH_ARGS=--profile shows where the parent's time goes.
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

# False alarms on generated cases over every update rule and dtype, and injected faults caught (reports/trust.json).
trust: install
	$(PY) bench/trust.py

# Everything make and the tools create: the environment, every report (screenshots, reproductions, bench),
# caches and build metadata. reports/.gitkeep stays.
clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
	find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
