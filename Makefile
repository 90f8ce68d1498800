# ws2 for MicroPython: every entry point. `make help` lists them.
# Set-up is automatic: each target that needs Python tools creates .venv from requirements.txt.
BOARD ?= UNIX
PORT ?=
HOST_IP ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
QUICK ?=
export BOARD PORT HOST_IP

.DEFAULT_GOAL := help
.PHONY: help venv run test board repl bundle deploy list-boards clean bench

help: ## List the targets
	@echo "ws2 for MicroPython - make targets (BOARD=$(BOARD), PORT=$(PORT)):"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1|\2/' | awk -F'|' '{printf "  %-14s %s\n", $$1, $$2}' | sed 's/^    /  /'

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(STAMP) ## Create .venv and install the pinned dependencies

run: $(STAMP) ## The demo: virtual board (or PORT=...), deploy, catalog table, TCP echo through ws2
	$(PY) -m firmware run --board $(BOARD)

test: $(STAMP) ## The whole suite (CPython unit tests + tests on the virtual board, or PORT=... for a real one)
	$(PY) -m pytest host_tests --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(PYTEST_ARGS)

board: $(STAMP) ## Start a virtual board in the foreground with ws2 deployed; prints its /dev/pts/N
	$(PY) -m firmware board --board $(BOARD)

repl: $(STAMP) ## A REPL on the board (a fresh virtual board unless PORT=...), ws2 importable
	$(PY) -m firmware repl --board $(BOARD)

bundle: $(STAMP) ## Compile device modules with mpy-cross into build/BOARD/ with a size report
	$(PY) -m firmware bundle --board $(BOARD)

deploy: $(STAMP) ## Copy the bundle to /lib on PORT (only changed files)
	$(PY) -m firmware deploy --board $(BOARD)

list-boards: $(STAMP) ## Show the boards with their budgets
	$(PY) -m firmware list-boards

bench: $(STAMP) ## Benchmarks: ws2 vs raw socket on the board (virtual unless PORT=...) into build/bench/BOARD.json; QUICK=1 for a fast run
	$(PY) -m firmware bench --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(filter-out 0,$(QUICK)),--quick)

clean: ## Remove build/ (keeps .venv)
	rm -rf build
