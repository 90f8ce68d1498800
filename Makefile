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
MICROPYTHON ?=
MICROPY_DIR ?=
ERASE ?=
DRY_RUN ?=
ARGS ?=
export BOARD PORT HOST_IP

.DEFAULT_GOAL := help
.PHONY: help venv run test board repl bundle deploy list-boards clean firmware flash detect wifi package-json bench soak

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
	$(PY) -m pytest host_tests --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(MICROPYTHON),--micropython $(abspath $(MICROPYTHON))) $(PYTEST_ARGS)

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

firmware: $(STAMP) ## MicroPython for BOARD with ws2 frozen in (needs MICROPY_DIR=/path/to/micropython) into build/BOARD/
	$(PY) -m firmware firmware --board $(BOARD) $(if $(MICROPY_DIR),--micropy-dir $(abspath $(MICROPY_DIR)))

flash: $(STAMP) ## Flash build/BOARD/'s image to the board at PORT (esptool, UF2 drive or picotool); ERASE=1, DRY_RUN=1
	$(PY) -m firmware flash --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(ERASE),--erase) $(if $(DRY_RUN),--dry-run) $(ARGS)

detect: $(STAMP) ## List connected boards (serial ports, RP2 BOOTSEL drives) and which board each looks like
	$(PY) -m firmware detect $(ARGS)

# The credentials reach the CLI through the environment, so make never echoes them;
# without PASSWORD the CLI asks for it.
ifdef SSID
wifi: export WIFI_SSID := $(SSID)
endif
ifneq ($(origin PASSWORD),undefined)
wifi: export WIFI_PASSWORD := $(PASSWORD)
endif
wifi: $(STAMP) ## Store Wi-Fi credentials on the board at PORT (SSID=... PASSWORD=...) and join the network
	$(PY) -m firmware wifi --board $(BOARD) $(if $(PORT),--port $(PORT)) $(ARGS)

package-json: $(STAMP) ## Regenerate package.json (mpremote mip install) from the device modules
	$(PY) -m firmware package-json

bench: $(STAMP) ## Benchmarks: ws2 vs raw socket on the board (virtual unless PORT=...) into build/bench/BOARD.json; QUICK=1 for a fast run
	$(PY) -m firmware bench --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(filter-out 0,$(QUICK)),--quick)

soak: $(STAMP) ## Reliability soak (hostile input, long runs, power cuts, hostile peers, threads) into build/soak/BOARD.md; QUICK=1 for CI
	$(PY) -m firmware soak --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(filter-out 0,$(QUICK)),--quick) $(if $(MICROPYTHON),--micropython $(abspath $(MICROPYTHON)))

clean: ## Remove build/ (keeps .venv)
	rm -rf build
