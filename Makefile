# The two commands a user types: `make compare` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install compare test lint bench trust browser clean

# The virtual environment with every framework, pinned by constraints.txt (torch 2.13.0 is the CPU
# build; an unpinned torch would pull several GB of CUDA packages).
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

compare: install
	$(PY) -m regcompare run cases --out reports

lint: install
	$(PY) -m ruff check regcompare tests

# Debian's Chromium for the report's browser test (no browser download at run time).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || bash tools/install-chromium.sh

# pytest exits 5 when it collects nothing: make treats that as the failure it is.
test: install lint browser
	$(PY) -m pytest

bench: install
	$(PY) bench/run.py

# False alarms on generated cases over every update rule and dtype, and injected faults caught (reports/trust.json).
trust: install
	$(PY) bench/trust.py

clean:
	rm -rf $(VENV) reports/*.json reports/*.csv reports/*.md reports/*.html reports/*.xml
