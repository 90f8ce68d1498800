# What the host tools say when something is wrong: flash advice in the spelling the user types, broken
# board files named with their key, detect --query's output, and the bundle's budget as an exit code.
# MIT licence; part of ws2 for MicroPython.
import io
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import tty
from contextlib import redirect_stderr, redirect_stdout

import pytest

from firmware import ROOT, boards, detect
from firmware.__main__ import main


def cli(*args, env=None):
    if env is None:  # a direct run, even when the suite itself runs under `make test`
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run([sys.executable, "-m", "firmware"] + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL)


def make(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k not in ("BOARD", "PORT")}
    return subprocess.run(["make", "--no-print-directory"] + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL)


def run_main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def esp32_image(path):
    path.write_bytes(bytes([0xE9, 3, 2, 0x20]) + b"\0" * 8 + struct.pack("<H", 0) + b"\0" * 4000)
    return str(path)


# -- flash advice names the options as they are typed -------------------------------------------------

def test_esptool_failure_advises_flash_baud(tmp_path):
    # A real esptool run against a port that does not exist: it fails, and the advice names the option
    # flash really has (--flash-baud; esptool's own --baud is not an option of this command).
    img = esp32_image(tmp_path / "firmware.bin")
    r = cli("flash", "--board", "ESP32_GENERIC", "--port", str(tmp_path / "ttyUSB9"), "--image", img)
    assert r.returncode == 1
    assert "try a lower baud rate: --flash-baud 115200" in r.stderr, r.stderr
    assert "--baud (" not in r.stderr


def test_through_make_the_advice_is_args(tmp_path):
    img = esp32_image(tmp_path / "firmware.bin")
    r = make("flash", "BOARD=ESP32_GENERIC", "PORT=%s" % (tmp_path / "ttyUSB9"), "ARGS=--image=%s" % img)
    assert r.returncode != 0
    assert "try a lower baud rate: ARGS='--flash-baud 115200'" in r.stderr, r.stderr
    r = make("flash", "BOARD=RPI_PICO_W", "ARGS=--image=%s --drive=%s" % (tmp_path / "none.uf2", tmp_path))
    assert r.returncode != 0
    assert "or give ARGS='--image PATH'" in r.stderr, r.stderr
    r = cli("flash", "--board", "RPI_PICO_W", "--image", str(tmp_path / "none.uf2"), "--drive", str(tmp_path))
    assert "or give --image PATH" in r.stderr, r.stderr


# -- a broken board.json is named, and the other boards still work --------------------------------------

@pytest.fixture
def boards_dir(tmp_path, monkeypatch):
    d = tmp_path / "boards"
    shutil.copytree(boards.BOARDS_DIR, d)
    monkeypatch.setattr(boards, "BOARDS_DIR", str(d))
    return d


def _edit(boards_dir, name, change):
    path = boards_dir / name / "board.json"
    b = json.loads(path.read_text())
    change(b)
    path.write_text(json.dumps(b))
    return path


def test_missing_key_and_wrong_type_are_named(boards_dir):
    _edit(boards_dir, "ESP32_GENERIC", lambda b: b.pop("heap_kb"))
    _edit(boards_dir, "RPI_PICO_W", lambda b: b.update(max_sockets="8", wifi=1))
    with pytest.raises(boards.BoardError) as e:
        boards.load("ESP32_GENERIC")
    assert str(e.value) == "%s: missing key 'heap_kb' (an integer)" % (boards_dir / "ESP32_GENERIC" / "board.json")
    with pytest.raises(boards.BoardError) as e:
        boards.load("RPI_PICO_W")
    assert str(e.value) == ("%s: key 'max_sockets' is a string ('8') where an integer is needed; key 'wifi' is an "
                            "integer (1) where true or false is needed" % (boards_dir / "RPI_PICO_W" / "board.json"))


def test_list_boards_lists_the_others_and_fails(boards_dir):
    _edit(boards_dir, "ESP32_GENERIC", lambda b: b.pop("heap_kb"))
    (boards_dir / "RPI_PICO2_W" / "board.json").write_text("[1, 2]")
    rc, out, err = run_main("list-boards")
    assert rc == 1
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == ["ESP32_GENERIC_S3", "RPI_PICO_W", "RPI_PICO_W_EMU", "UNIX"]
    assert "missing key 'heap_kb' (an integer)" in err and "boards/ESP32_GENERIC/board.json: " in err
    assert "/boards/RPI_PICO2_W/board.json holds a list, not an object of keys" in err
    assert "Traceback" not in err and "KeyError" not in err


def test_detect_skips_a_broken_board(boards_dir):
    _edit(boards_dir, "RPI_PICO2_W", lambda b: b.update(usb_ids="2E8A:0005"))
    assert detect.candidates("2E8A:0005") == ["RPI_PICO_W"]
    assert detect.board_from_machine("Raspberry Pi Pico W with RP2040") == "RPI_PICO_W"


# -- detect --query: no stray output from mpremote ---------------------------------------------------

def test_query_of_a_silent_port_says_so_without_stray_bytes(capsys):
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        dev = os.ttyname(slave)
        with pytest.raises(detect.DetectError, match="could not enter raw repl; it sent nothing"):
            detect.query(dev)
        assert "b''" not in capsys.readouterr().out
    finally:
        os.close(master)
        os.close(slave)


def test_detect_run_query_line(monkeypatch, capsys):
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        dev = os.ttyname(slave)
        monkeypatch.setattr(detect, "ports", lambda: [(dev, "2E8A:0005", "MicroPython", "Board", "1")])
        monkeypatch.setattr(detect, "bootsel_drives", lambda: [])
        lines = []
        detect.run(out=lines.append, do_query=True)
        text = "\n".join(lines)
        assert "no MicroPython answer (could not enter raw repl; it sent nothing)" in text
        assert "b''" not in capsys.readouterr().out + text
    finally:
        os.close(master)
        os.close(slave)


# -- make bundle: over the budget is a failure -------------------------------------------------------

def test_bundle_over_its_budget_exits_non_zero(boards_dir):
    for name, kb in (("OVER", 1), ("ROOMY", 100000)):
        (boards_dir / name).mkdir()
        shutil.copy(boards_dir / "UNIX" / "board.json", boards_dir / name / "board.json")
        _edit(boards_dir, name, lambda b: b.update(name=name, flash_budget_kb=kb, flash_budget_tcp_kb=kb))
    try:
        rc, out, err = run_main("bundle", "--board", "OVER")
        assert rc == 1
        assert "OVER the 1 KB budget of OVER" in out
        assert err.startswith("firmware: the bundle is over its flash budget: router + wspm ")
        rc, out, err = run_main("bundle", "--board", "ROOMY")
        assert rc == 0 and "within the 100000 KB budget of ROOMY" in out and err == ""
    finally:
        for name in ("OVER", "ROOMY"):
            shutil.rmtree(os.path.join(ROOT, "build", name), ignore_errors=True)


def test_flash_refuses_an_emulated_board():
    r = subprocess.run([sys.executable, "-m", "firmware", "flash", "--board", "RPI_PICO_W_EMU", "--dry-run"],
                       cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "emulated board" in r.stderr and "BOARD=RPI_PICO_W" in r.stderr
