# The RPI_PICO_W firmware that `make firmware` builds from a MicroPython source tree ($MICROPY_DIR), booted
# in the RP2040 emulator (firmware.emuboard), runs the router path from its frozen modules. It skips saying
# what is missing: the tree, the Arm toolchain, the emulator. (The frozen UNIX build: test_boards_hil.py.)
# MIT licence; part of ws2 for MicroPython.
import os
import shutil

import pytest

from firmware import boards, frozen
from firmware.device import Board

MICROPY_DIR = os.environ.get("MICROPY_DIR")

# On the board: the router path, which on armv6m runs the functions that are native in the .mpy bundle
# (ws2.sockio, ws2.handles, wspm's data entries), from the frozen modules.
ROUTER_PATH = "\n".join([
    "import ws2",
    "assert ws2.__file__.startswith('.frozen') or '/lib/' not in ws2.__file__, ws2.__file__",
    "ws2.WSAStartup(0x0202)",
    "s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)",
    "ws2.closesocket(s)",
    "ws2.WSACleanup()",
    "print('router path ok')",
])


def _build(board_name, tmp_path_factory):
    if not MICROPY_DIR:
        pytest.skip("no MicroPython source tree: set MICROPY_DIR (git clone https://github.com/micropython/micropython "
                    "and its port's submodules)")
    board = boards.load(board_name)
    try:
        frozen.check_tree(MICROPY_DIR, board)
        frozen.check_toolchain(board)
    except frozen.BuildError as e:
        pytest.skip(str(e))
    out = tmp_path_factory.mktemp("fw-" + board_name)
    return frozen.build(board_name, MICROPY_DIR, out_dir=str(out), out=lambda m: None)


def test_rp2040_frozen_build_boots_in_the_emulator(tmp_path_factory):
    try:
        from firmware import emuboard
    except ImportError:
        pytest.skip("no RP2040 emulator: firmware.emuboard is not installed (the emulated RPI_PICO_W board)")
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("no Arm toolchain: apt install gcc-arm-none-eabi libnewlib-arm-none-eabi cmake")
    bootrom = emuboard.default_bootrom()
    lacks = emuboard.missing("-", bootrom)
    if lacks and "firmware image" not in lacks:
        pytest.skip(lacks)
    copied = _build("RPI_PICO_W", tmp_path_factory)
    uf2 = [p for p in copied if p.endswith(".uf2")][0]
    with emuboard.EmulatedBoard("RPI_PICO_W_EMU", image=uf2, bootrom=bootrom) as eb:
        b = Board(eb.device)
        try:
            # ws2.closesocket is where a frozen armv6m native function crashed the RP2040
            assert b.exec(ROUTER_PATH, timeout=180).strip() == "router path ok"
        finally:
            b.close()
