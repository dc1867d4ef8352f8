# The two commands of the README: `make run` and `make test`. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast bench lint venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

run: venv
	$(PY) -m devtools.launcher run

test: venv
	$(PY) -m devtools.launcher test $(ARGS)

# The inner loop: everything but the end-to-end stack and the browser.
test-fast: venv
	$(PY) -m devtools.launcher test -m "not e2e and not browser" $(ARGS)

bench: venv
	$(PY) -m devtools.launcher bench $(ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
