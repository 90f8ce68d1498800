# The virtual board under unmodified mpremote and pyserial, as a USB board would be driven.
# MIT licence; part of ws2 for MicroPython.
import os
import subprocess
import sys
import time

import pytest
import serial

from firmware.device import Board, DeviceTimeout
from firmware.vboard import VirtualBoard

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


def mpremote(dev, *args, timeout=30):
    r = subprocess.run([MPREMOTE, "connect", dev] + list(args), capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.replace("\r\n", "\n"), r.stderr


@pytest.fixture
def vboard(request):
    vb = VirtualBoard(request.config.getoption("--board"))
    vb.start()
    yield vb
    vb.stop()


def test_exec(vboard):
    rc, out, err = mpremote(vboard.device, "exec", "print(6 * 7)")
    assert rc == 0, err
    assert out.strip() == "42"


def test_fs_cp_then_import_and_run(vboard, tmp_path):
    mod = tmp_path / "greet.py"
    mod.write_text("WHO = 'board'\n")
    script = tmp_path / "script.py"
    script.write_text("import greet\nprint('hello', greet.WHO)\n")
    rc, _, err = mpremote(vboard.device, "fs", "cp", str(mod), ":greet.py")
    assert rc == 0, err
    rc, out, err = mpremote(vboard.device, "fs", "ls")
    assert rc == 0 and "greet.py" in out, (out, err)
    rc, out, err = mpremote(vboard.device, "run", str(script))
    assert rc == 0, err
    assert out.strip() == "hello board"
    # the file landed in the board's flash directory, not on the host's /
    assert (open(os.path.join(vboard.flash, "greet.py")).read()) == "WHO = 'board'\n"
    assert not os.path.exists("/greet.py")


def test_soft_reset_keeps_files_and_clears_ram(vboard, tmp_path):
    f = tmp_path / "keep.py"
    f.write_text("V = 7\n")
    assert mpremote(vboard.device, "fs", "cp", str(f), ":keep.py")[0] == 0
    rc, out, err = mpremote(vboard.device, "exec", "x = 5", "+", "soft-reset", "+", "resume", "exec",
                            "import keep; print(keep.V, 'x' in globals())")
    assert rc == 0, err
    assert out.strip().endswith("7 False")
    assert vboard.resets >= 1


def test_heap_budget_is_enforced(vboard):
    kb = vboard.board["heap_kb"]
    rc, out, err = mpremote(vboard.device, "exec", "b = bytearray(%d * 1024)" % (3 * kb))
    assert rc != 0
    assert "MemoryError" in out + err
    rc, out, err = mpremote(vboard.device, "exec", "import gc; gc.collect(); print(gc.mem_free() + gc.mem_alloc())")
    assert rc == 0, err
    total = int(out.strip().splitlines()[-1])
    import struct

    assert total <= kb * 1024 * struct.calcsize("P") // 4


def test_friendly_repl_over_pyserial(vboard):
    with serial.Serial(vboard.device, 115200, timeout=2) as s:
        s.write(b"\r\x02")  # Ctrl-B: friendly REPL
        time.sleep(0.2)
        s.reset_input_buffer()
        s.write(b"1 + 2; print('a\\nb')\r")
        got = b""
        deadline = time.time() + 5
        while b"b\r\n>>> " not in got and time.time() < deadline:
            got += s.read(64)
        assert b"3\r\na\r\nb\r\n>>> " in got, got  # text ends its lines as on a board
        s.write(b"\x04")  # Ctrl-D in the friendly REPL: soft reboot
        got = b""
        deadline = time.time() + 5
        while b">>> " not in got and time.time() < deadline:
            got += s.read(256)
        assert b"MPY: soft reboot\r\n" in got and b">>> " in got


def test_ctrl_c_interrupts_running_code(vboard):
    b = Board(vboard.device)
    try:
        with pytest.raises(DeviceTimeout):
            b.exec("while True:\n    pass", timeout=1)
        # interrupted and soft-reset: the board answers again
        assert b.exec("print('alive')").strip() == "alive"
    finally:
        b.close()


def test_two_boards_at_once(request):
    name = request.config.getoption("--board")
    with VirtualBoard(name) as a, VirtualBoard(name) as b:
        assert a.device != b.device and a.flash != b.flash
        assert mpremote(a.device, "exec", "print('A')")[1].strip() == "A"
        assert mpremote(b.device, "exec", "print('B')")[1].strip() == "B"


def test_crash_restarts_and_stop_leaves_no_process(vboard):
    first = vboard._proc.pid
    vboard.crash()
    rc, out, err = mpremote(vboard.device, "exec", "print('back')")
    assert rc == 0 and out.strip() == "back", err
    second = vboard._proc.pid
    assert second != first
    vboard.stop()
    time.sleep(0.1)
    for pid in (first, second):
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
