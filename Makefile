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
PLACE ?=
PLACES ?=
FARM_BOARDS ?=
export PLACE
QUICK ?=
MICROPYTHON ?=
MICROPY_DIR ?=
ERASE ?=
DRY_RUN ?=
ARGS ?=
# The emulated board (BOARD=RPI_PICO_W_EMU, docs/emulator.md): a MicroPython rp2 image and the RP2040 bootrom.
FIRMWARE ?=
BOOTROM ?=
RP2040JS := rp2040js@1.4.1
NODE_STAMP := node_modules/.$(RP2040JS)
FLASH ?=
PLACE ?=
PLACES ?=
FARM_BOARDS ?=
export PLACE
export BOARD PORT HOST_IP
ifneq ($(FIRMWARE),)
export FIRMWARE := $(abspath $(FIRMWARE))
endif
ifneq ($(BOOTROM),)
export BOOTROM := $(abspath $(BOOTROM))
endif
# Targets that may start a board also install the emulator when npm is there (like .venv: first time only).
EMU_DEPS := $(if $(shell command -v npm 2>/dev/null),$(NODE_STAMP))

.DEFAULT_GOAL := help
.PHONY: help venv emu-deps run test board repl bundle deploy list-boards clean firmware flash detect wifi \
	package-json mip-index bench test-deps farm-deps farm-up farm-down farm-test capture soak

help: ## List the targets
	@echo "ws2 for MicroPython - make targets (BOARD=$(BOARD), PORT=$(PORT)):"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1|\2/' | awk -F'|' '{printf "  %-14s %s\n", $$1, $$2}' | sed 's/^    /  /'

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(STAMP) ## Create .venv and install the pinned dependencies

$(NODE_STAMP):
	npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error $(RP2040JS)
	@touch $@

emu-deps: $(NODE_STAMP) ## Install the RP2040 emulator (npm rp2040js, pinned) into node_modules for BOARD=RPI_PICO_W_EMU

run: $(STAMP) $(EMU_DEPS) ## The demo: virtual board (or PORT=...), deploy, catalog table, TCP echo through ws2
	$(PY) -m firmware run --board $(BOARD)

test: $(STAMP) $(EMU_DEPS) test-deps ## The whole suite (CPython unit tests + tests on the virtual board, or PORT=... for a real one)
	$(PY) -m pytest host_tests --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(MICROPYTHON),--micropython $(abspath $(MICROPYTHON))) $(PYTEST_ARGS)

board: $(STAMP) $(EMU_DEPS) ## Start a virtual board in the foreground with ws2 deployed; prints its /dev/pts/N; FLASH=dir keeps its flash
	$(PY) -m firmware board --board $(BOARD) $(if $(FLASH),--flash $(abspath $(FLASH)))

repl: $(STAMP) $(EMU_DEPS) ## A REPL on the board (a fresh virtual board unless PORT=...), ws2 importable
	$(PY) -m firmware repl --board $(BOARD) $(if $(FLASH),--flash $(abspath $(FLASH)))

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

mip-index: $(STAMP) ## A mip package index of ws2's packages (bytecode .mpy, any arch) into build/mip/
	$(PY) -m firmware mip-index

bench: $(STAMP) $(EMU_DEPS) ## Benchmarks: ws2 vs raw socket on the board (virtual unless PORT=...) into build/bench/BOARD.json; QUICK=1 for a fast run
	$(PY) -m firmware bench --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(filter-out 0,$(QUICK)),--quick)

# Debian packages some tests use (ser2net for the labgrid farm, tshark to read captures); installed when
# missing and run as root, else those tests skip and say how to install them.
DEBIAN_TEST_PACKAGES := ser2net tshark
test-deps: ## Install the Debian packages the tests use (ser2net, tshark) when missing (needs root)
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do command -v $$p >/dev/null 2>&1 || test -x /usr/sbin/$$p || \
	  missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing$$missing (Debian)"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq $$missing >/dev/null 2>&1; } || \
	    echo "could not install$$missing: the tests that need them skip"; \
	  else echo "not root: apt-get install$$missing for the tests that need them (they skip)"; fi; fi

farm-deps: test-deps ## Install ser2net (Debian), which labgrid's exporter runs, when it is missing (needs root)

farm-up: $(STAMP) test-deps ## A local labgrid farm: coordinator, 2 virtual boards (FARM_BOARDS=UNIX,ESP32_GENERIC), an exporter each
	$(PY) -m firmware farm-up $(if $(FARM_BOARDS),--boards $(FARM_BOARDS))

farm-down: $(STAMP) ## Stop the local labgrid farm and every process it started
	$(PY) -m firmware farm-down

farm-test: $(STAMP) ## The HIL smoke suite through labgrid on PLACES=a,b in parallel (default: the local farm's places)
	$(PY) -m firmware farm-test $(if $(PLACES),--places $(PLACES)) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

capture: $(STAMP) ## Fetch the capture layer's pcap from the board at PORT (SECONDS=.. of its program first) into build/capture/
	$(PY) -m firmware capture --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(SECONDS),--seconds $(SECONDS))

soak: $(STAMP) ## Reliability soak (hostile input, long runs, power cuts, hostile peers, threads) into build/soak/BOARD.md; QUICK=1 for CI
	$(PY) -m firmware soak --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(filter-out 0,$(QUICK)),--quick) $(if $(MICROPYTHON),--micropython $(abspath $(MICROPYTHON)))

clean: ## Remove build/ (keeps .venv)
	rm -rf build
