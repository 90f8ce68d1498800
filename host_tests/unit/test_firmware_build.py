# make firmware: the hint for each real first error (recorded logs of failed MicroPython builds), the
# freezer's native arch for UNIX, picotool or PICO_NO_PICOTOOL for rp2, the firmware partition check after
# a build and before a flash, and the armv6m freeze without native code. MicroPython's build is played by
# a stand-in tree whose Makefile records what it was given.
# MIT licence; part of ws2 for MicroPython.
import json
import os
import shutil
import subprocess
import sys

import pytest

from firmware import ROOT, boards, bundle, flash, frozen, manifest, native

LOGS = os.path.join(os.path.dirname(__file__), "firmware_logs")
PICO_LIMIT = (2048 - 848) * 1024  # RPI_PICO_W: 2 MiB of flash, 848 KiB of filesystem


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "firmware"] + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL)


def log(name):
    with open(os.path.join(LOGS, name)) as f:
        return f.read()


# -- the hint names the first error --------------------------------------------------------------

@pytest.mark.parametrize("name, board, starts", [
    ("rp2_picotool_download.log", "RPI_PICO_W", "pico-sdk could not find an installed picotool and failed to "
                                                "download one"),
    ("rp2_missing_toolchain.log", "RPI_PICO_W", "install the Arm GNU toolchain and CMake"),
    ("rp2_missing_submodule.log", "RPI_PICO_W", "the cyw43-driver submodule is missing: run `make -C "
                                                "/src/mp/ports/rp2 BOARD=RPI_PICO_W submodules`"),
    ("unix_missing_submodule.log", "UNIX", "the micropython-lib submodule is missing: run `make -C "
                                           "/src/mp/ports/unix VARIANT=standard submodules`"),
    ("unix_missing_libffi.log", "UNIX", "install libffi and pkg-config"),
])
def test_hint_of_each_recorded_failure(name, board, starts):
    b = boards.load(board)
    got = frozen.hint(log(name), b, "/src/mp", "/ws2/boards/%s/manifest.py" % board)
    assert got and got.startswith(starts), got


def test_a_picotool_download_is_not_called_a_missing_toolchain():
    text = log("rp2_picotool_download.log")
    assert "arm-none-eabi-gcc" in text  # every rp2 log names the compiler
    got = frozen.hint(text, boards.load("RPI_PICO_W"), "/src/mp", "m.py")
    assert "Arm GNU toolchain" not in got and "picotool_DIR" in got


def test_the_first_error_wins_over_a_later_one():
    b = boards.load("UNIX")
    text = log("unix_missing_submodule.log") + "\nmodffi.c:33:10: fatal error: ffi.h: No such file or directory\n"
    assert frozen.hint(text, b, "/src/mp", "m.py").startswith("the micropython-lib submodule is missing")
    assert frozen.hint("CC ../../py/objfun.c\nall fine\n", b, "/src/mp", "m.py") is None


def stand_in(tmp_path, port, make_rule):
    from host_tests.unit.test_flash_and_firmware import fake_tree

    return fake_tree(tmp_path, port, rule=make_rule)


def test_the_cli_reports_the_recorded_failure(tmp_path):
    (tmp_path / "recorded.log").write_text(log("unix_missing_libffi.log"))
    top = stand_in(tmp_path, "unix", "\t@cat %s\n\t@exit 2\n" % (tmp_path / "recorded.log"))
    r = cli("firmware", "--board", "UNIX", "--micropy-dir", str(top), "--out", str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].startswith("firmware: the MicroPython build of UNIX failed (exit code 2): "
                                               "install libffi and pkg-config")


# -- UNIX: the freezer compiles native code for this host --------------------------------------------

@pytest.mark.parametrize("machine, arch", [("x86_64", "x64"), ("i686", "x86"), ("riscv64", "rv64imc"),
                                           ("armv7l", "armv6")])
def test_unix_build_gives_the_freezer_the_host_arch(machine, arch, tmp_path):
    _, argv = frozen.commands(boards.load("UNIX"), str(tmp_path), jobs=1, machine=machine)
    assert "MPY_CROSS_FLAGS=-march=" + arch in argv[1]


def test_unix_build_on_a_host_without_a_native_emitter_says_so(tmp_path):
    with pytest.raises(frozen.BuildError, match=r"no native code emitter for this host \(aarch64\)"):
        frozen.commands(boards.load("UNIX"), str(tmp_path), machine="aarch64")


# -- rp2: picotool, or PICO_NO_PICOTOOL and a UF2 made here; the firmware partition -----------------------

def _tools_env(tmp_path, **extra):
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name in ("arm-none-eabi-gcc", "cmake"):
        (d / name).write_text("#!/bin/sh\nexit 0\n")
        (d / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "picotool_DIR"}
    env.update(PATH="%s:%s" % (d, os.environ["PATH"]), **extra)
    return env


def rp2_tree(tmp_path, image_size):
    # The port's build writes firmware.bin (and firmware.uf2 only with picotool) and records CMAKE_ARGS.
    tmp_path.mkdir(parents=True, exist_ok=True)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(i * 7 & 0xFF for i in range(image_size)))
    rule = ("\t@mkdir -p $(BUILD)\n\t@echo \"$$CMAKE_ARGS\" > $(BUILD)/cmake_args.txt\n"
            "\t@cp %s $(BUILD)/firmware.bin\n\t@cp %s $(BUILD)/firmware.elf\n" % (payload, payload))
    return stand_in(tmp_path, "rp2", rule), payload.read_bytes()


def test_rp2_without_picotool_builds_the_bin_and_makes_the_uf2(tmp_path):
    top, data = rp2_tree(tmp_path, 300000)
    lines = []
    out = tmp_path / "out"
    copied = frozen.build("RPI_PICO_W", str(top), out_dir=str(out), jobs=1, out=lines.append,
                          env=_tools_env(tmp_path))
    text = "\n".join(lines)
    assert "picotool: no picotool (picotool_DIR is not set): MicroPython is built with PICO_NO_PICOTOOL=1" in text
    build = top / "ports" / "rp2" / "build-ws2-RPI_PICO_W-nopicotool"
    assert (build / "cmake_args.txt").read_text().strip() == "-DPICO_NO_PICOTOOL=1"
    assert str(out / "firmware.uf2") in copied
    uf2 = str(out / "firmware.uf2")
    flash.check_uf2_image(boards.load("RPI_PICO_W"), uf2)
    assert flash.uf2_extent(uf2, 0x10000000) == 300032  # whole 256-byte blocks
    assert "image 300000 B of the %d B firmware partition (flash 2048 KB - filesystem 848 KB): %d B" % (
        PICO_LIMIT, PICO_LIMIT - 300000) in text
    # what the UF2 writes is the .bin, byte for byte
    blob = open(uf2, "rb").read()
    payload = b"".join(blob[i + 32:i + 32 + 256] for i in range(0, len(blob), 512))
    assert payload[:len(data)] == data


def test_rp2_with_an_installed_picotool(tmp_path):
    top, _ = rp2_tree(tmp_path, 1000)
    pdir = tmp_path / "picotool" / "lib" / "cmake" / "picotool"
    pdir.mkdir(parents=True)
    (pdir / "picotoolConfig.cmake").write_text("")
    lines = []
    frozen.build("RPI_PICO_W", str(top), out_dir=str(tmp_path / "out"), jobs=1, out=lines.append,
                 env=_tools_env(tmp_path, picotool_DIR=str(pdir)))
    assert "picotool: picotool from picotool_DIR=%s makes firmware.uf2" % pdir in lines
    build = top / "ports" / "rp2" / "build-ws2-RPI_PICO_W"
    assert (build / "cmake_args.txt").read_text().strip() == "-Dpicotool_DIR=%s" % pdir
    with pytest.raises(frozen.BuildError, match="holds no picotoolConfig.cmake"):
        frozen.build("RPI_PICO_W", str(top), out_dir=str(tmp_path / "out"), jobs=1, out=lines.append,
                     env=_tools_env(tmp_path, picotool_DIR=str(tmp_path)))


def test_rp2_cmake_runs_again_for_another_manifest(tmp_path):
    top, _ = rp2_tree(tmp_path, 1000)
    build = top / "ports" / "rp2" / "build-ws2-RPI_PICO_W-nopicotool"
    build.mkdir(parents=True)
    (build / "Makefile").write_text("configured\n")
    (build / "CMakeCache.txt").write_text("MICROPY_FROZEN_MANIFEST:UNINITIALIZED=/elsewhere/manifest.py\n")
    frozen.build("RPI_PICO_W", str(top), out_dir=str(tmp_path / "out"), jobs=1, out=lambda m: None,
                 env=_tools_env(tmp_path))
    assert not (build / "Makefile").exists()
    man = os.path.join(ROOT, "boards", "RPI_PICO_W", "manifest.py")
    (build / "Makefile").write_text("configured\n")
    (build / "CMakeCache.txt").write_text("MICROPY_FROZEN_MANIFEST:UNINITIALIZED=%s\n" % man)
    frozen.build("RPI_PICO_W", str(top), out_dir=str(tmp_path / "out"), jobs=1, out=lambda m: None,
                 env=_tools_env(tmp_path))
    assert (build / "Makefile").read_text() == "configured\n"


def test_an_image_that_would_overlap_the_filesystem_fails(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "firmware.uf2").write_bytes(b"an earlier build")
    top, _ = rp2_tree(tmp_path, PICO_LIMIT + 1)
    with pytest.raises(frozen.BuildError) as e:
        frozen.build("RPI_PICO_W", str(top), out_dir=str(out), jobs=1, out=lambda m: None, env=_tools_env(tmp_path))
    assert ("is %d B, but the firmware partition of RPI_PICO_W is %d B (flash 2048 KB - filesystem 848 KB): it would "
            "overlap the filesystem by 1 B" % (PICO_LIMIT + 1, PICO_LIMIT)) in str(e.value)
    assert sorted(os.listdir(out)) == ["firmware-build.log"]  # nothing left to flash by mistake
    top, _ = rp2_tree(tmp_path / "fits", PICO_LIMIT)
    lines = []
    frozen.build("RPI_PICO_W", str(top), out_dir=str(out), jobs=1, out=lines.append, env=_tools_env(tmp_path))
    assert any("firmware partition" in l and ": 0 B (0.0 %) left" in l for l in lines)


@pytest.mark.parametrize("name", ["ESP32_GENERIC", "ESP32_GENERIC_S3", "RPI_PICO_W", "RPI_PICO2_W"])
def test_flashed_boards_describe_their_partition(name):
    b = boards.load(name)
    assert isinstance(b.get("flash_size_kb"), int) and isinstance(b.get("filesystem_kb"), int)


def test_without_partition_keys_the_size_is_not_checked_and_says_so(tmp_path):
    b = {k: v for k, v in boards.load("RPI_PICO_W").items() if k != "filesystem_kb"}
    assert boards.firmware_partition(b) is None
    assert "'flash_size_kb' is '2048', of the wrong type" in boards.problems(dict(b, flash_size_kb="2048"))


def test_a_board_whose_filesystem_takes_the_flash_is_a_board_problem():
    b = dict(boards.load("RPI_PICO_W"), filesystem_kb=2048)
    assert "the filesystem (2048 KB) leaves no room for the firmware (flash 2048 KB - filesystem 2048 KB)" in \
        boards.problems(b)


@pytest.mark.parametrize("board, limit", [("ESP32_GENERIC", 0x200000 - 0x1000), ("ESP32_GENERIC_S3", 0x200000),
                                          ("RPI_PICO_W", PICO_LIMIT), ("RPI_PICO2_W", 1536 * 1024)])
def test_firmware_partitions(board, limit):
    # ESP32: MicroPython's partitions-4MiBplus.csv ends the app at 2 MiB; RP2: MICROPY_HW_FLASH_STORAGE_BYTES.
    assert boards.firmware_partition(boards.load(board))[0] == limit
    assert boards.firmware_partition(boards.load("UNIX")) is None


def test_flash_dry_run_refuses_what_flash_would(tmp_path):
    b = boards.load("RPI_PICO_W")
    big = tmp_path / "big.uf2"
    big.write_bytes(flash.uf2_from_bin(bytes(PICO_LIMIT + 256), 0x10000000, 0xE48BFF56))
    r = cli("flash", "--dry-run", "--board", "RPI_PICO_W", "--method", "drive", "--drive", str(tmp_path),
            "--image", str(big))
    assert r.returncode == 1 and "would overlap the filesystem by 256 B" in r.stderr, r.stderr
    r = cli("flash", "--dry-run", "--board", "RPI_PICO_W", "--method", "drive", "--drive", str(tmp_path),
            "--image", str(tmp_path / "missing.uf2"))
    assert r.returncode == 1 and "no firmware image" in r.stderr
    wrong = tmp_path / "rp2350.uf2"
    wrong.write_bytes(flash.uf2_from_bin(bytes(1000), 0x10000000, 0xE48BFF59))
    r = cli("flash", "--dry-run", "--board", "RPI_PICO_W", "--method", "drive", "--drive", str(tmp_path),
            "--image", str(wrong))
    assert r.returncode == 1 and "but RPI_PICO_W is an RP2040" in r.stderr
    ok = tmp_path / "ok.uf2"
    ok.write_bytes(flash.uf2_from_bin(bytes(1000), 0x10000000, 0xE48BFF56))
    r = cli("flash", "--dry-run", "--board", "RPI_PICO_W", "--method", "drive", "--drive", str(tmp_path),
            "--image", str(ok))
    assert r.returncode == 0 and "# image 1024 B of the %d B firmware partition" % PICO_LIMIT in r.stdout
    assert b["name"] == "RPI_PICO_W"


# -- armv6m: frozen without native code ----------------------------------------------------------------

def test_strip_blanks_only_the_decorator_lines():
    src = "import micropython\n\n@micropython.native\ndef f(x):\n    return x\n\nclass A:\n    @micropython.native  # hot\n" \
          "    def g(self):\n        s = '@micropython.native'\n        return s\n"
    got = native.strip(src)
    assert got.count("\n") == src.count("\n")
    assert "@micropython.native\n" not in got and "# hot" not in got
    assert "s = '@micropython.native'" in got and "def f(x):" in got


def _arch_of_mpy(path):
    with open(path, "rb") as f:
        head = f.read(4)
    assert head[:2] == b"M\x06"
    return head[2] >> 2  # 0: no native code in the file


def test_rp2040_freezes_no_native_code(tmp_path):
    m = manifest.read(os.path.join(boards.load("RPI_PICO_W")["dir"], "manifest.py"))
    sources = dict((rel, src) for src, rel in bundle.sources())
    assert sorted(f.target_path for f in m.files) == sorted(sources)
    natives = 0
    for f in m.files:
        with open(f.full_path) as a, open(sources[f.target_path]) as b:
            text, original = a.read(), b.read()
        assert "@micropython.native" not in text.replace("'@micropython.native'", "")
        assert text == native.strip(original)
        out = str(tmp_path / "frozen.mpy")
        bundle.compile_one(f.full_path, out, "armv6m")
        assert _arch_of_mpy(out) == 0, f.target_path
        bundle.compile_one(sources[f.target_path], out, "armv6m")
        natives += _arch_of_mpy(out) != 0
    assert natives >= 3  # sockio, handles and wspm do carry native code in the .mpy bundle


@pytest.mark.parametrize("name", ["UNIX", "RPI_PICO2_W", "ESP32_GENERIC"])
def test_other_archs_freeze_the_modules_as_they_are(name):
    m = manifest.read(os.path.join(boards.load(name)["dir"], "manifest.py"))
    assert all(f.full_path.startswith(os.path.join(ROOT, "ws2")) or f.full_path.startswith(os.path.join(ROOT, "providers"))
               for f in m.files)


def test_the_uf2_made_here_is_picotools_byte_for_byte():
    # MicroPython's stock RPI_PICO_W v1.27.0 image: its .bin, and the .uf2 picotool made of it.
    stock = os.path.join(ROOT, "..", "shared", "firmware", "RPI_PICO_W-v1.27.0")
    if not os.path.isfile(os.path.join(stock, "firmware.uf2")):
        pytest.skip("no stock RPI_PICO_W v1.27.0 image (firmware.bin and firmware.uf2) to compare with")
    with open(os.path.join(stock, "firmware.bin"), "rb") as f:
        data = f.read()
    with open(os.path.join(stock, "firmware.uf2"), "rb") as f:
        assert flash.uf2_from_bin(data, 0x10000000, 0xE48BFF56) == f.read()
