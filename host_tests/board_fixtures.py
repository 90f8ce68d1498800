# host_tests/board_fixtures: the board a test talks to: the labgrid place held, its board.json, and the
# raw-REPL connection with the bundle deployed (a virtual board unless --port or a labgrid place).
# MIT licence; part of ws2 for MicroPython.
import pytest

from firmware import boards as _boards
from host_tests.emu_fixtures import emulator_files


@pytest.fixture(scope="session")
def lg_place(request):
    """The labgrid place this run holds (acquired for the session), or None without --lg-env."""
    from host_tests import farm_fixtures

    with farm_fixtures.hold_place(request.config) as place:
        yield place


@pytest.fixture(scope="session")
def board_info(request, lg_place):
    """The board.json of --board, or of the labgrid place's `board` tag."""
    return _boards.load((lg_place and lg_place.board) or request.config.getoption("--board"))


@pytest.fixture(scope="session")
def device(request, board_info, lg_place):
    """A raw-REPL connection to the board (a virtual one unless --port or a labgrid place), with the bundle deployed."""
    from firmware.deploy import deploy
    from firmware.device import Board
    from firmware.vboard import open_board

    port = lg_place.url if lg_place else request.config.getoption("--port")
    vb = None
    if port is None:
        vb = open_board(board_info["name"], micropython=request.config.getoption("--micropython"),
                        **emulator_files(request.config, board_info))
        port = vb.start()
    try:
        try:
            b = Board(port, baud=request.config.getoption("--baud"))
            b.virtual = vb
            b.board_info = board_info
            deploy(b, board_info["name"], log=lambda m: None)
        except Exception as e:
            if lg_place is None:
                raise
            raise RuntimeError("place %s (board %s): could not reach the board to deploy (%s: %s); %s" % (
                lg_place.place, lg_place.board, type(e).__name__, e, lg_place.exporter_state())) from None
        b.dtest_hashes = {}
        b.dtest_dirty = None
        yield b
        b.close()
    finally:
        if vb is not None:
            vb.stop()


@pytest.fixture(autouse=True)
def _transcript(request):
    """Remember where the serial transcript stood, so a failure can show its part."""
    request.node._transcript_start = None
    if "device" in request.fixturenames:
        dev = request.getfixturevalue("device")
        request.node._transcript_start = len(dev.transcript)
        request.node._device = dev
    yield


@pytest.fixture(scope="session")
def frozen_ws2(request):
    """True when the virtual board's interpreter (--micropython) has ws2 frozen in: /lib's copy is never imported."""
    from firmware import frozen

    exe = request.config.getoption("--micropython")
    return bool(exe) and frozen.has_ws2(exe)


@pytest.fixture
def lib_ws2(frozen_ws2):
    """For a test of ws2 installed in /lib: skips, saying why, when the interpreter has ws2 frozen in."""
    if frozen_ws2:
        pytest.skip("ws2 is frozen into this interpreter (--micropython): '.frozen' comes before /lib on sys.path, "
                    "so a copy installed in /lib is never imported")
