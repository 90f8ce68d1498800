# The emulated RP2040 board (MicroPython's own rp2 firmware in rp2040js) under unmodified mpremote and
# pyserial, driven as a USB Pico W would be. Skipped, saying why, without Node.js, rp2040js, an image or
# the bootrom (docs/emulator.md).
# MIT licence; part of ws2 for MicroPython.
import hashlib
import os
import subprocess
import sys
import time

import pytest
import serial

from firmware import emuboard
from firmware.deploy import deploy
from firmware.device import Board

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
BOARD = "RPI_PICO_W_EMU"


def mpremote(dev, *args, timeout=120):
    r = subprocess.run([MPREMOTE, "connect", dev] + list(args), capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.replace("\r\n", "\n"), r.stderr


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but the process table.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture(scope="module")
def emu(emu_files):
    b = emuboard.EmulatedBoard(BOARD, **emu_files)
    b.start()
    yield b
    b.stop()


def _read_until(port, marker, timeout=60):
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got and time.monotonic() < deadline:
        got += port.read(port.in_waiting or 1)
    return got


def test_boots_the_real_firmware_with_a_32_bit_heap(emu):
    rc, out, err = mpremote(emu.device, "exec", "import sys, gc; gc.collect(); "
                            "print(sys.platform, sys.implementation._machine, gc.mem_free() + gc.mem_alloc())")
    assert rc == 0, err
    platform, rest = out.split(" ", 1)
    assert platform == "rp2" and "RP2040" in rest
    assert int(rest.split()[-1]) > 190000  # the firmware's own GC heap (205,312 B for v1.27.0)


def test_mpremote_run_and_fs_cp_both_ways(emu, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import os\nprint('hello from', os.uname().sysname)\n")
    rc, out, err = mpremote(emu.device, "run", str(script))
    assert rc == 0 and out.strip() == "hello from rp2", err
    data = os.urandom(20000) + bytes(range(256))
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    rc, _, err = mpremote(emu.device, "fs", "cp", str(src), ":blob.bin")
    assert rc == 0, err
    rc, out, err = mpremote(emu.device, "exec", "import hashlib, binascii; "
                            "print(binascii.hexlify(hashlib.sha256(open('blob.bin', 'rb').read()).digest()).decode())")
    assert rc == 0 and out.strip() == hashlib.sha256(data).hexdigest(), err
    back = tmp_path / "back.bin"
    rc, _, err = mpremote(emu.device, "fs", "cp", ":blob.bin", str(back))
    assert rc == 0 and back.read_bytes() == data, err
    rc, out, err = mpremote(emu.device, "fs", "ls")
    assert rc == 0 and "%d blob.bin" % len(data) in out, err


def test_soft_reset_keeps_files_and_clears_ram(emu, tmp_path):
    f = tmp_path / "keep.py"
    f.write_text("KEPT = 1\n")
    assert mpremote(emu.device, "fs", "cp", str(f), ":keep.py")[0] == 0
    rc, out, err = mpremote(emu.device, "exec", "x = 5", "+", "soft-reset", "+", "resume", "exec",
                            "import keep; print('x' in globals(), keep.KEPT)")
    assert rc == 0, err
    assert out.strip().splitlines()[-1] == "False 1"


def test_a_burst_larger_than_the_usb_fifo_arrives_whole(emu):
    # The raw REPL (not raw-paste) reads code with no flow control of its own: on USB the host is held
    # back by NAKs; here by the bridge. 16 KB in one write, 32 times the emulated CDC FIFO.
    text = "".join("%04d" % i for i in range(4000))
    with serial.Serial(emu.device, timeout=0.2) as port:
        port.write(b"\r\x03\x03\x01")
        _read_until(port, b"raw REPL; CTRL-B to exit\r\n>")
        port.write(("s = %r\nprint(len(s), s[-8:])\n" % text).encode() + b"\x04")
        got = _read_until(port, b"\x04>")
        port.write(b"\x02")
    assert b"16000 39983999" in got, got[-200:]


def test_deploy_the_armv6m_bundle_and_import(emu):
    b = Board(emu.device)
    try:
        assert b.eval("__import__('sys').implementation._mpy >> 10") == 4  # MP_NATIVE_ARCH_ARMV6M
        deploy(b, BOARD, log=lambda m: None)  # compiles for armv6m, copies, soft-resets, imports
        out = b.exec("import ws2, providers.wspm, providers.nspm\nws2.WSAStartup(0x0202)\n"
                     "print(ws2.__file__, providers.wspm.__file__)\nws2.WSACleanup()")
        assert out.split() == ["/lib/ws2/__init__.mpy", "/lib/providers/wspm/__init__.mpy"]
    finally:
        b.close()


def test_input_before_usb_enumeration_is_held_and_no_emulator_text_reaches_the_port(emu_files):
    b = emuboard.EmulatedBoard(BOARD, **emu_files)
    try:
        with serial.Serial(b.device, timeout=0.2) as port:
            b.start(wait=False)
            port.write(b"print(6 * 7)\r")  # typed while the firmware boots: held until USB is up
            got = _read_until(port, b"42\r\n>>> ")
        assert b"42\r\n>>> " in got
        assert got.startswith(b"MicroPython v")  # the banner first: nothing of the emulator's before it
        assert b"rp2emu" not in got and b"Unimplemented" not in got
    finally:
        b.stop()


def test_flash_file_survives_stop_and_power_cut_and_no_process_is_left(emu_files, tmp_path):
    flash = str(tmp_path / "flash.bin")
    b = emuboard.EmulatedBoard(BOARD, flash=flash, **emu_files)
    b.start()
    pids = [b.pid]
    try:
        assert mpremote(b.device, "exec", "with open('note.txt', 'w') as f: f.write('kept')")[0] == 0
        b.crash()  # a power cut right after the write: the board comes back from its flash
        deadline = time.monotonic() + 30
        while (b.pid in pids or b.pid is None) and time.monotonic() < deadline:
            time.sleep(0.1)
        pids.append(b.pid)
        rc, out, err = mpremote(b.device, "exec", "print(open('note.txt').read())")
        assert rc == 0 and out.strip() == "kept", err
    finally:
        b.stop()
    assert not any(_alive(p) for p in pids if p)
    assert os.path.getsize(flash) == 2 * 1024 * 1024
    b2 = emuboard.EmulatedBoard(BOARD, flash=flash, **emu_files)
    b2.start()
    try:
        rc, out, err = mpremote(b2.device, "exec", "print(open('note.txt').read())")
        assert rc == 0 and out.strip() == "kept", err
    finally:
        b2.stop()
    assert not _alive(pids[-1])


def test_a_temporary_flash_is_removed_on_stop(emu_files):
    b = emuboard.EmulatedBoard(BOARD, **emu_files)
    b.start()
    pid, where = b.pid, os.path.dirname(b.flash)
    b.stop()
    assert not _alive(pid) and not os.path.exists(where)


def test_what_is_missing_is_said(emu_files):
    with pytest.raises(emuboard.EmulatorError, match="firmware image /nonexistent.uf2 does not exist"):
        emuboard.EmulatedBoard(BOARD, image="/nonexistent.uf2", bootrom=emu_files["bootrom"])
    assert "give FIRMWARE=" in emuboard.missing(None, emu_files["bootrom"])
    assert "give BOOTROM=" in emuboard.missing(emu_files["image"], None)


def test_bench_heap_figures_on_the_32_bit_heap(emu_files, monkeypatch, tmp_path):
    # `make bench BOARD=RPI_PICO_W_EMU`, its heap part: measured on the firmware's own heap, not halved.
    from firmware import bench

    monkeypatch.setenv("FIRMWARE", emu_files["image"])
    monkeypatch.setenv("BOOTROM", emu_files["bootrom"])
    lines = []
    report = bench.run(BOARD, quick=True, only=["ram"], out=lines.append, out_dir=str(tmp_path))
    assert report["board"]["word"] == 4 and report["emulated"] == os.path.basename(emu_files["image"])
    f = report["figures"]
    for fid in ("ram_import", "ram_per_socket", "ram_per_overlapped"):
        assert f[fid]["ws2"] and f[fid]["ws2"].get("median", 0) > 0, (fid, f[fid])
        assert f[fid].get("scaled") is None  # a 32-bit heap: nothing estimated
    assert f["ram_per_socket"]["raw"].get("median", 0) > 0
    # UDP sockets open at once: the firmware's lwIP pool decides (4 in v1.27.0's RPI_PICO_W), the router adds no limit
    assert f["max_sockets"]["ws2"].get("median", 0) == f["max_sockets"]["raw"].get("median") > 0
    assert "no network" in f["ram_working_set"]["ws2"]["missing"]
    text = (tmp_path / (BOARD + ".partial.md")).read_text()
    assert "emulated RP2040" in text and "heap after import ws2 + wspm + nspm" in text
