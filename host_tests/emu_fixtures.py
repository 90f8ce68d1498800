# host_tests/emu_fixtures: the emulated RP2040 board's firmware image and bootrom, for the harness.
# MIT licence; part of ws2 for MicroPython.
#
# An emulated board (board.json "emulator") needs a MicroPython rp2 firmware
# image and the RP2040 bootrom: --firmware/--bootrom ($FIRMWARE/$BOOTROM), else
# what `make firmware` left in build/. Without them the tests that need the
# emulated board are skipped, saying what is missing.
import pytest


def emulator_files(config, board_info):
    """The image= and bootrom= keywords for open_board (empty for a board that is not emulated); skips when missing."""
    from firmware import emuboard

    if not emuboard.is_emulated(board_info):
        return {}
    image = config.getoption("--firmware") or emuboard.default_image(board_info)
    bootrom = config.getoption("--bootrom") or emuboard.default_bootrom()
    why = emuboard.missing(image, bootrom)
    if why:
        pytest.skip("emulated %s: %s" % (board_info["name"], why))
    return {"image": image, "bootrom": bootrom}


@pytest.fixture(scope="session")
def emu_files(request):
    """image= and bootrom= for an EmulatedBoard of RPI_PICO_W_EMU (skips the test when they are missing)."""
    from firmware import boards

    return emulator_files(request.config, boards.load("RPI_PICO_W_EMU"))
