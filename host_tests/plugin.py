# host_tests/plugin: the hardware-in-the-loop harness as a pytest plugin: its options (board
# selection among them), markers, report hooks, and the collection of device test modules a second
# time, as items that run on the board. MIT licence; part of ws2 for MicroPython.
#
# Three tiers run from here: CPython unit tests (host_tests/unit), device test
# modules (host_tests/device/test_*.py) that pytest runs on CPython AND, as
# items named test_x[BOARD], on the board over serial, and host-driven HIL
# tests (host_tests/hil) that talk to the board through the `device` fixture.
import ast
import hashlib
import os
import sys

import pytest

from host_tests import host_fixtures

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEVICE_DIR = os.path.join(HERE, "device")
# The helper module every device test may import by its plain name, on CPython
# as on the board (where it is uploaded to /dtest beside the test module).
DEVICE_HELPER = "devhelp"
if DEVICE_DIR not in sys.path:
    sys.path.append(DEVICE_DIR)

DEFAULT_TIMEOUT = 60  # seconds of silence from the board before a device test is interrupted


def pytest_addoption(parser):
    g = parser.getgroup("ws2", "ws2 hardware-in-the-loop")
    g.addoption("--port", default=os.environ.get("PORT") or None,
                help="serial device of a real board (default: start a virtual board)")
    g.addoption("--board", default=os.environ.get("BOARD") or "UNIX", help="board name under boards/ (default UNIX)")
    g.addoption("--host-ip", default=os.environ.get("HOST_IP") or None,
                help="address at which the board reaches servers on this host (default 127.0.0.1)")
    g.addoption("--baud", type=int, default=115200, help="serial baud rate (default 115200)")
    g.addoption("--micropython", default=os.environ.get("MICROPYTHON") or None,
                help="unix-port interpreter for the virtual board (default: the venv's)")
    g.addoption("--firmware", default=os.environ.get("FIRMWARE") or None,
                help="firmware image (.uf2/.bin) an emulated board runs (default: $FIRMWARE; docs/emulator.md)")
    g.addoption("--bootrom", default=os.environ.get("BOOTROM") or None,
                help="RP2040 bootrom image for an emulated board (default: $BOOTROM)")
    g.addoption("--farm-places", default=None,
                help="with --lg-env and pytest-xdist: comma-separated labgrid places, worker gwN takes the Nth")
    g.addoption("--farm-reports", default=None, help="folder for a report per labgrid place")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: needs a board (virtual or real)")
    _check_frozen_interpreter(config)
    places = config.getoption("--farm-places")
    if places:
        # Before labgrid's own configure (it runs last) reads $LG_PLACE into the environment's RemotePlace.
        from firmware.farm import worker_place

        place = worker_place(places)
        if place:
            os.environ["LG_PLACE"] = place


def _check_frozen_interpreter(config):
    # Every virtual board of the run uses the interpreter given, also those a
    # test starts itself or through the CLI (firmware.vboard reads $MICROPYTHON),
    # whatever their working directory. A frozen build runs the ws2 it was built
    # from, not this tree's: tests on an image older than the sources would test
    # old code.
    exe = config.getoption("--micropython")
    if not exe:
        return
    from firmware import frozen

    exe = config.option.micropython = os.environ["MICROPYTHON"] = os.path.abspath(exe)

    stale = frozen.stale_sources(exe)
    if stale:
        raise pytest.UsageError("%s has ws2 frozen from other sources than this tree (%s%s): rebuild it with "
                                "make firmware BOARD=UNIX MICROPY_DIR=/path/to/micropython"
                                % (exe, ", ".join(stale[:5]), ", ..." if len(stale) > 5 else ""))


def pytest_runtest_logreport(report):
    from host_tests import farm_fixtures

    farm_fixtures.record(report)


def pytest_sessionfinish(session):
    from host_tests import farm_fixtures

    farm_fixtures.write_report(session.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    start = getattr(item, "_transcript_start", None)
    if rep.failed and start is not None:
        text = bytes(item._device.transcript[start:]).decode(errors="replace")
        rep.sections.append(("serial transcript", text[-20000:]))


# -- device test modules: collected a second time, to run on the board -----------------

def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("test_") and str(file_path.parent) == DEVICE_DIR:
        return DeviceModule.from_parent(parent, path=file_path)
    return None


class DeviceModule(pytest.File):
    """The test_* functions of a device module, as items that run on the board."""

    def collect(self):
        tree = ast.parse(self.path.read_text())
        meta = {"ENV": (), "TIMEOUT": DEFAULT_TIMEOUT, "BOARD_SKIP": {}, "UPLOAD": ()}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if node.targets[0].id in meta:
                    meta[node.targets[0].id] = ast.literal_eval(node.value)
        board = _board_label(self.config)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                fn = _device_runner(self.path, node.name, meta, bool(node.args.args), board)
                item = pytest.Function.from_parent(self, name="%s[%s]" % (node.name, board), callobj=fn)
                item.add_marker("hil")
                yield item


class DeviceFailure(AssertionError):
    """A device test failed on the board (its message is the board's traceback)."""


def _device_runner(path, func, meta, wants_env, board):
    # A real pytest test function (so fixtures, markers and reports work as for
    # any test) whose body runs `func` of the device module on the board.
    def run_on_board(request, device, tcp_echo, udp_echo, host_ip):
        if getattr(device, "lost", None):
            pytest.fail(device.lost, pytrace=False)
        try:
            run(request, device, tcp_echo, udp_echo, host_ip)
        except DeviceFailure as e:
            place = request.getfixturevalue("lg_place")
            if place is None or "gone" not in place.exporter_state():
                raise
            pytest.fail(_lost_board(request, device, e), pytrace=False)
        except Exception as e:  # the serial line itself broke: say which board, and fail its later tests fast
            lost = _lost_board(request, device, e)
            if lost is None:
                raise
            pytest.fail(lost, pytrace=False)

    def run(request, device, tcp_echo, udp_echo, host_ip):
        from firmware.device import DeviceError, DeviceTimeout

        reason = meta["BOARD_SKIP"].get(device.board_info["name"])
        if isinstance(reason, dict):  # {board: {test name: reason}} skips single tests
            reason = reason.get(func)
        if reason:
            pytest.skip(reason)
        values = host_fixtures.env_values(request, meta["ENV"], tcp_echo, udp_echo, host_ip)
        # The shared helper, then the module's own non-test helpers (UPLOAD = ("name",)).
        for helper in (DEVICE_HELPER,) + tuple(meta["UPLOAD"]):
            _upload(device, path.parent / (helper + ".py"), helper)
        mod = _upload(device, path)
        if device.virtual is not None and device.dtest_dirty is not path:
            # A fresh interpreter per test on the virtual board (a soft reset
            # costs ~0.1 s there): with ws2 loaded as .mpy its bytecode lives
            # in the heap, and modules and caches piling up from earlier tests
            # would make a later one fail for want of RAM, not for its own code.
            device.soft_reset()
        device.dtest_dirty = None
        code = _RUNNER % {"values": repr(values), "mod": mod, "func": func, "args": "_env" if wants_env else ""}
        try:
            out = device.exec(code, timeout=meta["TIMEOUT"])
        except DeviceTimeout as e:
            raise DeviceFailure(str(e)) from None
        except DeviceError as e:
            text = str(e)
            device.soft_reset()  # a failed test may leave sockets or state behind
            device.dtest_dirty = path  # just reset: the next test need not reset again
            if "WS2SkipTest:" in text:
                pytest.skip(text.rsplit("WS2SkipTest:", 1)[1].strip())
            raise DeviceFailure("on the board:\n" + text) from None
        if "\x00WS2-PASS\x00" not in out:
            raise DeviceFailure("the test did not finish; board output:\n" + out)

    run_on_board.__name__ = func
    return run_on_board


def _board_label(config):
    # Every xdist worker must collect the same items: on a labgrid farm the
    # places may hold different boards, so items say [place] and each test
    # looks up its board at run time.
    from host_tests import farm_fixtures

    return "place" if farm_fixtures.farm_mode(config) else config.getoption("--board")


def _lost_board(request, device, error):
    place = request.getfixturevalue("lg_place")
    if place is None:
        return None
    device.lost = "place %s (board %s): lost the serial connection (%s: %s); %s" % (
        place.place, place.board, type(error).__name__, error, place.exporter_state())
    return device.lost


_RUNNER = """
import sys
if '/dtest' not in sys.path:
    sys.path.append('/dtest')
class WS2SkipTest(Exception):
    pass
class _Env:
    def skip(self, reason):
        raise WS2SkipTest(reason)
_env = _Env()
for _k, _v in %(values)s.items():
    setattr(_env, _k, _v)
import %(mod)s
%(mod)s.%(func)s(%(args)s)
print('\\x00WS2-PASS\\x00')
"""


def _upload(dev, path, name=None):
    """Compile a device test module (or a helper, kept under its own name) to /dtest once; return its name."""
    from firmware import bundle

    name = name or "dt_" + path.stem
    src = path.read_bytes()
    digest = hashlib.sha256(src).hexdigest()
    if dev.dtest_hashes.get(name) == digest:
        return name
    out = os.path.join(ROOT, "build", "dtest", dev.board_info["name"], name + ".mpy")
    bundle.compile_one(str(path), out, dev.board_info["mpy_arch"])
    with open(out, "rb") as f:
        data = f.read()
    dev.exec("import os, sys\ntry:\n    os.mkdir('/dtest')\nexcept OSError:\n    pass\n"
             "if '/dtest' not in sys.path:\n    sys.path.append('/dtest')")
    dev.write_file("/dtest/%s.mpy" % name, data)
    dev.soft_reset()  # drop a stale copy of the module from sys.modules
    dev.exec("import sys\nif '/dtest' not in sys.path:\n    sys.path.append('/dtest')")
    dev.dtest_hashes[name] = digest
    return name
