# Flashing (--dry-run commands, image checks, the UF2 copy), frozen firmware builds (messages,
# MicroPython's build driven in a stand-in tree) and board detection. No board, no toolchain needed.
# MIT licence; part of ws2 for MicroPython.
import hashlib
import json
import os
import shlex
import struct
import subprocess
import sys

import pytest

from firmware import ROOT, boards, detect, flash, frozen

ESPTOOL = flash.esptool_cmd()[0]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "firmware"] + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL)


def dry_run(*args):
    board = args[args.index("--board") + 1]
    r = cli("flash", "--dry-run", "--image", image(board), *args)
    assert r.returncode == 0, r.stderr
    return [shlex.split(l) for l in r.stdout.splitlines() if not l.startswith("#")]


_IMAGES = {}


def image(board):
    """A valid image for the board (a dry run checks it as a real flash does), made once per test run."""
    if board not in _IMAGES:
        import tempfile

        b = boards.load(board)
        d = tempfile.mkdtemp(prefix="ws2-images-")
        path = os.path.join(d, b["image"])
        if b["flasher"] == "esptool":
            with open(path, "wb") as f:
                f.write(bytes([0xE9, 3, 2, 0x20]) + bytes(8) + struct.pack("<H", flash._ESP_CHIP_IDS[b["esptool_chip"]])
                        + bytes(1000))
        else:
            with open(path, "wb") as f:
                f.write(flash.uf2_from_bin(bytes(1000), int(b["flash_offset"], 16), int(b["uf2_families"][0], 16)))
        _IMAGES[board] = path
    return _IMAGES[board]


# -- flash --dry-run: the exact commands ------------------------------------------------------------

@pytest.mark.parametrize("board, chip, mode, offset", [
    ("ESP32_GENERIC", "esp32", "dio", "0x1000"),
    ("ESP32_GENERIC_S3", "esp32s3", "qio", "0x0"),
])
def test_dry_run_esptool(board, chip, mode, offset):
    common = ESPTOOL + ["--chip", chip, "--port", "/dev/ttyUSB0", "--baud", "460800",
                        "--before", "default-reset", "--after", "hard-reset"]
    assert dry_run("--board", board, "--port", "/dev/ttyUSB0") == [
        common + ["write-flash", "--flash-mode", mode, "--flash-size", "keep", offset, image(board)]]
    assert dry_run("--board", board, "--port", "/dev/ttyUSB0", "--erase", "--flash-baud", "115200") == [
        [x if x != "460800" else "115200" for x in common] + ["erase-flash"],
        [x if x != "460800" else "115200" for x in common] + ["write-flash", "--flash-mode", mode, "--flash-size",
                                                                "keep", offset, image(board)]]


def test_esptool_v4_spelling(monkeypatch):
    monkeypatch.setattr(flash, "esptool_cmd", lambda: (["esptool.py"], 4))
    steps = flash.plan(boards.load("ESP32_GENERIC"), "/dev/ttyUSB0", "fw.bin", erase=True)
    assert [s.argv[1:] for s in steps] == [
        ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "--before", "default_reset",
         "--after", "hard_reset", "erase_flash"],
        ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "--before", "default_reset",
         "--after", "hard_reset", "write_flash", "--flash_mode", "dio", "--flash_size", "keep", "0x1000",
         os.path.abspath("fw.bin")]]


@pytest.mark.parametrize("board, label", [("RPI_PICO_W", "RPI-RP2"), ("RPI_PICO2_W", "RP2350")])
def test_dry_run_uf2_drive(board, label, tmp_path):
    assert dry_run("--board", board, "--method", "drive", "--drive", str(tmp_path)) == [
        ["cp", image(board), str(tmp_path / "firmware.uf2")]]
    # A running board on a serial port is put into BOOTSEL first, then the drive is awaited.
    r = cli("flash", "--dry-run", "--board", board, "--method", "drive", "--port", "/dev/ttyACM0", "--image", image(board))
    lines = [l for l in r.stdout.splitlines() if not l.startswith("# image ")]
    assert shlex.split(lines[0])[1:] == ["connect", "/dev/ttyACM0", "bootloader"]
    assert lines[1].startswith("# wait for the %s drive" % label)
    assert shlex.split(lines[2])[0] == "cp" and shlex.split(lines[2])[2].endswith(label + "/firmware.uf2")


@pytest.mark.parametrize("board", ["RPI_PICO_W", "RPI_PICO2_W"])
def test_dry_run_picotool(board):
    got = dry_run("--board", board, "--method", "picotool", "--erase")
    assert [c[1:] for c in got] == [["erase", "-a"], ["load", "-v", "-x", image(board)]]
    assert os.path.basename(got[0][0]) == "picotool"


def test_rp2_erase_without_picotool_says_what_to_do(tmp_path):
    r = cli("flash", "--dry-run", "--board", "RPI_PICO_W", "--method", "drive", "--drive", str(tmp_path), "--erase")
    assert r.returncode == 1
    assert r.stderr.startswith("firmware: erasing an RP2040 needs picotool (`picotool erase -a`")


def test_esp32_needs_a_port():
    r = cli("flash", "--dry-run", "--board", "ESP32_GENERIC", env=dict(os.environ, PORT=""))
    assert r.returncode == 1 and "needs --port" in r.stderr


def test_unix_is_not_flashed():
    r = cli("flash", "--board", "UNIX", "--port", "/dev/null")
    assert r.returncode == 1 and "virtual board" in r.stderr


# -- images are checked before anything is flashed --------------------------------------------------

def esp_image(path, chip_id):
    head = bytes([0xE9, 3, 2, 0x20]) + b"\0" * 8 + struct.pack("<H", chip_id) + b"\0" * 50
    path.write_bytes(head)
    return str(path)


def uf2_image(path, families, blocks=4):
    data = b""
    for i in range(blocks):
        fam = families[i % len(families)]
        block = struct.pack("<8I", 0x0A324655, 0x9E5D5157, 0x2000, 0x10000000 + 256 * i, 256, i, blocks, fam)
        block += bytes([i & 0xFF]) * 476 + struct.pack("<I", 0x0AB16F30)
        data += block
    path.write_bytes(data)
    return str(path)


def test_wrong_esp_chip_is_refused(tmp_path):
    s3 = esp_image(tmp_path / "s3.bin", 9)
    with pytest.raises(flash.FlashError, match="built for esp32s3, but ESP32_GENERIC is an esp32"):
        flash.check_esp_image(boards.load("ESP32_GENERIC"), s3)
    flash.check_esp_image(boards.load("ESP32_GENERIC_S3"), s3)
    (tmp_path / "junk.bin").write_bytes(b"hello world, not firmware")
    with pytest.raises(flash.FlashError, match="not an ESP32 firmware image"):
        flash.check_esp_image(boards.load("ESP32_GENERIC"), str(tmp_path / "junk.bin"))


def test_wrong_uf2_family_is_refused(tmp_path):
    rp2350 = uf2_image(tmp_path / "p2.uf2", [0xE48BFF57, 0xE48BFF59])
    with pytest.raises(flash.FlashError, match=r"is for RP2XXX absolute, RP2350 ARM \(secure\), but RPI_PICO_W is an "
                                               r"RP2040"):
        flash.check_uf2_image(boards.load("RPI_PICO_W"), rp2350)
    flash.check_uf2_image(boards.load("RPI_PICO2_W"), rp2350)
    flash.check_uf2_image(boards.load("RPI_PICO_W"), uf2_image(tmp_path / "p1.uf2", [0xE48BFF56]))
    (tmp_path / "bad.uf2").write_bytes(b"\0" * 512)
    with pytest.raises(flash.FlashError, match="not a UF2 file"):
        flash.uf2_families(str(tmp_path / "bad.uf2"))


def test_missing_image_says_how_to_get_one(tmp_path):
    r = cli("flash", "--board", "RPI_PICO_W", "--drive", str(tmp_path), "--image", str(tmp_path / "none.uf2"))
    assert r.returncode == 1
    assert "no firmware image" in r.stderr and "make firmware BOARD=RPI_PICO_W" in r.stderr


def test_uf2_copy_to_the_bootsel_drive(tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    fw = uf2_image(tmp_path / "firmware.uf2", [0xE48BFF56], blocks=300)
    r = cli("flash", "--board", "RPI_PICO_W", "--drive", str(drive), "--image", fw)
    assert r.returncode == 0, r.stderr
    assert (drive / "firmware.uf2").read_bytes() == open(fw, "rb").read()
    assert "copied 153600 bytes" in r.stdout and "flashed RPI_PICO_W" in r.stdout


def test_bootsel_drives_are_found_by_their_info_file(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, text in ((a, "Board-ID: RPI-RP2\n"), (b, "Model: Raspberry Pi RP2350\nBoard-ID: RP2350\n"), (c, None)):
        d.mkdir()
        if text:
            (d / "INFO_UF2.TXT").write_text(text)
    monkeypatch.setattr(flash, "_mount_points", lambda: [str(a), str(b), str(c)])
    assert flash.find_drives(("RPI-RP2",)) == [(str(a), "RPI-RP2")]
    assert flash.find_drives(("RPI-RP2", "RP2350")) == [(str(a), "RPI-RP2"), (str(b), "RP2350")]


# -- make firmware: messages and MicroPython's build in a stand-in tree ---------------------------------

def fake_tree(tmp_path, port="unix", fail_with=None, rule=None):
    """A directory shaped like a MicroPython checkout whose Makefiles record their arguments (or run rule)."""
    top = tmp_path / "micropython"
    (top / "py").mkdir(parents=True)
    (top / "py" / "mpconfig.h").write_text("")
    for sub in ("micropython-lib", "mbedtls", "berkeley-db-1.xx", "pico-sdk", "cyw43-driver", "lwip"):
        (top / "lib" / sub).mkdir(parents=True)
        (top / "lib" / sub / "README.md").write_text("")
    (top / "mpy-cross").mkdir()
    (top / "mpy-cross" / "Makefile").write_text("all:\n\t@echo mpy-cross built\n")
    pdir = top / "ports" / port
    pdir.mkdir(parents=True)
    if rule:
        pass
    elif fail_with:
        rule = "\t@echo '%s'\n\t@exit 2\n" % fail_with
    else:
        out = {"unix": "micropython", "esp32": "firmware.bin", "rp2": "firmware.uf2"}[port]
        rule = ("\t@mkdir -p $(BUILD)\n\t@echo \"$(MAKEFLAGS) FROZEN_MANIFEST=$(FROZEN_MANIFEST) BUILD=$(BUILD)\" "
                "> $(BUILD)/args.txt\n\t@printf '#!/bin/sh\\necho frozen\\n' > $(BUILD)/%s\n\t@chmod +x $(BUILD)/%s\n"
                "\t@echo built\n" % (out, out))
    (pdir / "Makefile").write_text("all:\n" + rule)
    return top


def test_firmware_builds_with_the_frozen_manifest(tmp_path):
    top = fake_tree(tmp_path)
    out = tmp_path / "out"
    r = cli("firmware", "--board", "UNIX", "--micropy-dir", str(top), "--out", str(out), "-j", "2")
    assert r.returncode == 0, r.stderr
    args = (top / "ports" / "unix" / "build-ws2-UNIX" / "args.txt").read_text()
    assert "FROZEN_MANIFEST=%s" % os.path.join(ROOT, "boards", "UNIX", "manifest.py") in args
    assert "VARIANT=standard" in args and "BUILD=build-ws2-UNIX" in args
    assert subprocess.run([str(out / "micropython")], capture_output=True, text=True).stdout == "frozen\n"
    assert "mpy-cross built" in (out / "firmware-build.log").read_text()
    assert "make test MICROPYTHON=" in r.stdout
    # What the image was frozen from is recorded beside it: this tree, so nothing is stale.
    rec = json.loads((out / frozen.SOURCES).read_text())
    assert rec["manifest"] == os.path.join("boards", "UNIX", "manifest.py")
    with open(os.path.join(ROOT, "ws2", "board.py"), "rb") as f:
        assert rec["files"]["ws2/board.py"] == hashlib.sha256(f.read()).hexdigest()
    assert "providers/wspm.py" in rec["files"] or "providers/wspm/__init__.py" in rec["files"]
    assert frozen.stale_sources(str(out / "micropython")) == []
    # A tree that moved on since the build: the run on the image says which files differ.
    rec["files"]["ws2/board.py"] = "0" * 64
    del rec["files"]["ws2/const.py"]
    (out / frozen.SOURCES).write_text(json.dumps(rec))
    assert frozen.stale_sources(str(out / "micropython")) == ["ws2/board.py", "ws2/const.py"]
    r = subprocess.run([sys.executable, "-m", "pytest", "--micropython", str(out / "micropython"), "--co", "-q",
                        os.path.join(ROOT, "host_tests", "unit", "test_inaddr.py")], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode != 0 and "ws2/board.py, ws2/const.py): rebuild it with make firmware BOARD=UNIX" in r.stderr


@pytest.mark.parametrize("board, var, build", [("ESP32_GENERIC_S3", "BOARD=ESP32_GENERIC_S3", "build-ws2-ESP32_GENERIC_S3"),
                                               ("RPI_PICO2_W", "BOARD=RPI_PICO2_W", "build-ws2-RPI_PICO2_W-nopicotool")])
def test_firmware_commands_per_port(board, var, build, tmp_path):
    b = boards.load(board)
    build_dir, argv = frozen.commands(b, str(tmp_path), jobs=4, env={})
    port_dir = os.path.join(str(tmp_path), "ports", b["port"])
    assert argv == [["make", "-C", os.path.join(str(tmp_path), "mpy-cross"), "-j4"],
                    ["make", "-C", port_dir, var, "BUILD=" + build,
                     "FROZEN_MANIFEST=" + os.path.join(ROOT, "boards", board, "manifest.py"), "-j4"]]
    assert build_dir == os.path.join(port_dir, build)


def test_firmware_failure_names_what_to_install(tmp_path):
    top = fake_tree(tmp_path, fail_with="../../py/modffi.c:1:10: fatal error: ffi.h: No such file or directory")
    r = cli("firmware", "--board", "UNIX", "--micropy-dir", str(top), "--out", str(tmp_path / "out"))
    assert r.returncode == 1
    first = r.stderr.splitlines()[0]
    assert first.startswith("firmware: the MicroPython build of UNIX failed (exit code 2): install libffi")
    assert "ffi.h: No such file" in r.stderr and r.stderr.count("firmware:") == 1


def test_firmware_not_a_tree_and_missing_submodules(tmp_path):
    r = cli("firmware", "--board", "UNIX", "--micropy-dir", str(tmp_path))
    assert r.returncode == 1 and "is not a MicroPython source tree with ports/unix" in r.stderr
    top = fake_tree(tmp_path)
    for f in (top / "lib" / "micropython-lib").iterdir():
        f.unlink()
    r = cli("firmware", "--board", "UNIX", "--micropy-dir", str(top))
    assert r.returncode == 1
    assert "lib/micropython-lib is empty: fetch the submodules UNIX needs with `make -C %s VARIANT=standard " \
           "submodules`" % os.path.join(str(top), "ports", "unix") in r.stderr


def _env_path(tmp_path, tools):
    # A PATH holding only the named tools (symlinks to the real ones, or stubs).
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name, target in tools.items():
        p = d / name
        if target is None:
            p.write_text("#!/bin/sh\nexit 1\n")
            p.chmod(0o755)
        else:
            p.symlink_to(target)
    return dict(os.environ, PATH=str(d))


def test_firmware_missing_toolchains(tmp_path):
    import shutil

    base = {"make": shutil.which("make"), "cc": shutil.which("cc"), "sh": shutil.which("sh")}
    env = _env_path(tmp_path, base)
    env.pop("IDF_PATH", None)
    with pytest.raises(frozen.BuildError, match=r"ESP-IDF not found \(IDF_PATH is not set\): install ESP-IDF v5.5.1"):
        frozen.check_toolchain(boards.load("ESP32_GENERIC"), env)
    with pytest.raises(frozen.BuildError, match="arm-none-eabi-gcc not found .*gcc-arm-none-eabi"):
        frozen.check_toolchain(boards.load("RPI_PICO_W"), env)
    with pytest.raises(frozen.BuildError, match="libffi not found through pkg-config.*libffi-dev"):
        frozen.check_toolchain(boards.load("UNIX"), dict(env, PATH=env["PATH"]))
    (tmp_path / "2").mkdir()
    env2 = _env_path(tmp_path / "2", {"sh": shutil.which("sh")})
    with pytest.raises(frozen.BuildError, match="no C compiler or make.*build-essential"):
        frozen.check_toolchain(boards.load("UNIX"), env2)


# -- detect ------------------------------------------------------------------------------------------

def test_detect_names_boards_by_usb_id(monkeypatch):
    monkeypatch.setattr(detect, "ports", lambda: [
        ("/dev/ttyUSB0", "10C4:EA60", "Silicon Labs", "CP2102", "0001"),
        ("/dev/ttyACM0", "2E8A:0005", "MicroPython", "Board in FS mode", "e66"),
        ("/dev/ttyACM1", "303A:1001", "Espressif", "USB JTAG/serial debug unit", "x"),
        ("/dev/ttyS0", None, None, None, None),
        ("/dev/ttyUSB1", "1234:5678", "Acme", "Widget", "9"),
    ])
    monkeypatch.setattr(detect, "bootsel_drives", lambda: [("/media/u/RPI-RP2", "RPI-RP2")])
    lines = []
    assert detect.run(out=lines.append) == 4
    text = "\n".join(lines)
    assert "/dev/ttyUSB0   10C4:EA60 Silicon Labs CP210x USB-UART (ESP32 dev boards); looks like ESP32_GENERIC or " \
           "ESP32_GENERIC_S3" in text
    assert "/dev/ttyACM0   2E8A:0005 Raspberry Pi RP2 running MicroPython; looks like RPI_PICO2_W or RPI_PICO_W" in text
    assert "303A:1001 Espressif native USB" in text and "looks like ESP32_GENERIC_S3" in text
    assert "/dev/ttyS0" not in text and "1234:5678 unknown USB device; looks like not one of ours" in text
    assert "RP2040 in BOOTSEL mode, ready for `make flash BOARD=RPI_PICO_W`" in text


@pytest.mark.parametrize("machine, build, board", [
    ("Generic ESP32 module with ESP32", "", "ESP32_GENERIC"),
    ("Generic ESP32S3 module with ESP32S3", "", "ESP32_GENERIC_S3"),
    ("Raspberry Pi Pico W with RP2040", "", "RPI_PICO_W"),
    ("Raspberry Pi Pico 2 W with RP2350", "", "RPI_PICO2_W"),
    ("something", "ESP32_GENERIC_S3-SPIRAM_OCT", "ESP32_GENERIC_S3"),
    ("Raspberry Pi Pico with RP2040", "RPI_PICO", None),
    ("linux [GCC 12] version", "standard", None),
])
def test_board_from_what_micropython_says(machine, build, board):
    assert detect.board_from_machine(machine, build) == board


def test_detect_cli_runs_without_boards():
    r = cli("detect")
    assert r.returncode == 0, r.stderr


def test_every_command_has_help():
    from firmware.__main__ import _parser

    p = _parser()
    sub = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name, c in sub.choices.items():
        assert c.description, name
        for a in c._actions:
            assert a.help, "%s %s has no help" % (name, a.option_strings)
