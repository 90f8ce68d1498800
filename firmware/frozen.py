# firmware/frozen: a MicroPython firmware with ws2 frozen in, built by MicroPython's own build.
# MIT licence; part of ws2 for MicroPython.
#
# `make firmware BOARD=X MICROPY_DIR=...` runs, in the given MicroPython tree,
#   make -C mpy-cross
#   make -C ports/<port> BOARD=<board> (VARIANT=<variant> for unix) BUILD=build-ws2-<BOARD>
#        FROZEN_MANIFEST=<abs path of boards/X/manifest.py>
# and copies the image to build/X/. Its own BUILD directory keeps the user's
# normal build of that board untouched, and keeps frozen content from a
# different manifest from being reused (the freezer only compares timestamps).
# Nothing is downloaded: a missing toolchain or submodule ends with one
# message saying what to install or run.
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

from firmware import ROOT, FirmwareError, boards, flash, manifest

# port -> (make variables naming the board, images to copy, submodule dirs its build needs)
_PORTS = {
    "unix": (lambda b: ["VARIANT=" + b["micropython_board"]], ("micropython",),
             ("lib/micropython-lib", "lib/mbedtls", "lib/berkeley-db-1.xx")),
    "esp32": (lambda b: ["BOARD=" + b["micropython_board"]], ("firmware.bin", "micropython.bin"),
              ("lib/micropython-lib", "lib/berkeley-db-1.xx")),
    "rp2": (lambda b: ["BOARD=" + b["micropython_board"]], ("firmware.uf2", "firmware.elf", "firmware.bin"),
            ("lib/micropython-lib", "lib/pico-sdk", "lib/cyw43-driver", "lib/lwip", "lib/mbedtls")),
}
_CLONE = "git clone https://github.com/micropython/micropython"
_IDF = ("install ESP-IDF v5.5.1 (git clone -b v5.5.1 --recursive https://github.com/espressif/esp-idf.git; "
        "cd esp-idf; ./install.sh esp32,esp32s3) and run `. $IDF_PATH/export.sh` in this shell before make firmware")
_ARM = ("install the Arm GNU toolchain and CMake (Debian/Ubuntu: sudo apt install gcc-arm-none-eabi "
        "libnewlib-arm-none-eabi cmake; macOS: brew install --cask gcc-arm-embedded; brew install cmake)")
_CC = "install a C compiler and make (Debian/Ubuntu: sudo apt install build-essential; macOS: xcode-select --install)"
_FFI = "install libffi and pkg-config (Debian/Ubuntu: sudo apt install libffi-dev pkg-config; macOS: brew install libffi pkg-config)"

_PICOTOOL = ("pico-sdk could not find an installed picotool and failed to download one: build and install "
             "picotool (https://github.com/raspberrypi/picotool, cmake -DPICOTOOL_NO_LIBUSB=1) and set "
             "picotool_DIR to its lib/cmake/picotool, or leave picotool_DIR unset: then this build uses "
             "PICO_NO_PICOTOOL=1 and makes the UF2 itself")
_SUBMODULE = "the %(sub)s submodule is missing: run `make -C %(port_dir)s %(vars)s submodules`"

# (pattern in the build log, what to tell the user). The hint is the one whose
# pattern occurs first in the log: the first error, not the most alarming one.
# Patterns are error messages only: a compiler's path (arm-none-eabi-gcc) is
# in every rp2 log.
_LOG_HINTS = tuple((re.compile(p), h) for p, h in (
    (r"fatal error: ffi\.h: No such file|Package libffi was not found|No package 'libffi' found|"
     r"pkg-config: (?:command )?not found", _FFI),
    (r"idf\.py: (?:command )?not found|IDF_PATH (?:is not set|environment variable)", _IDF),
    (r"No installed picotool with version .* found|Failed to clone repository: '[^']*picotool|"
     r"Build step for picotool failed|Could not find a package configuration file provided by \"picotool\"",
     _PICOTOOL),
    (r"Compiler 'arm-none-eabi-gcc' not found|arm-none-eabi-gcc: (?:command )?not found|"
     r"No CMAKE_C_COMPILER could be found|cmake: (?:command )?not found", _ARM),
    (r"(?P<sub>micropython-lib|pico-sdk|cyw43-driver|mbedtls|lwip|tinyusb|btstack|mynewt-nimble|wiznet5k)"
     r"(?: submodule is)? not initialized", _SUBMODULE),
    (r"(?P<sub>berkeley-db-1\.xx|mbedtls|lwip|tinyusb|cyw43-driver|micropython-lib)/\S*: No such file", _SUBMODULE),
    (r"not found in any known library", "micropython-lib is missing: run `make -C %(port_dir)s %(vars)s submodules`"),
    (r"freeze error|Error in manifest", "the manifest %(manifest)s was rejected by MicroPython's freezer (see the log)"),
    (r"error compiling", "a frozen module did not compile with MicroPython's mpy-cross (see the log)"),
    (r"overflowed|does not fit", "the image no longer fits the board's flash: the frozen modules are too big"),
    (r"\b(?:cc|gcc|make): (?:command )?not found", _CC),
))


def hint(text, board, micropy_dir, man):
    """Return what to tell the user about a failed build's log text: the hint of its first known error, or None."""
    first = None
    for pattern, what in _LOG_HINTS:
        m = pattern.search(text)
        if m and (first is None or m.start() < first[0].start()):
            first = (m, what)
    if first is None:
        return None
    m, what = first
    return what % {"port_dir": os.path.join(micropy_dir, "ports", board["port"]), "board": board["micropython_board"],
                   "manifest": man, "vars": " ".join(_PORTS[board["port"]][0](board)),
                   "sub": (m.groupdict().get("sub") or "")}


class BuildError(FirmwareError):
    """No MicroPython tree, a missing toolchain, or a failed MicroPython build; the message says what to do."""


def _which(name, env):
    return shutil.which(name, path=env.get("PATH", os.defpath))


def check_tree(micropy_dir, board):
    """Raise BuildError unless micropy_dir is a MicroPython source tree with the board's port and submodules."""
    if not micropy_dir:
        raise BuildError("MICROPY_DIR is not set: `make firmware` builds with a MicroPython source tree "
                         "(%s; then make firmware BOARD=%s MICROPY_DIR=/path/to/micropython)"
                         % (_CLONE, board["name"]))
    port_dir = os.path.join(micropy_dir, "ports", board["port"])
    if not os.path.isfile(os.path.join(micropy_dir, "py", "mpconfig.h")) or not os.path.isdir(port_dir):
        raise BuildError("MICROPY_DIR=%s is not a MicroPython source tree with ports/%s (%s)"
                         % (micropy_dir, board["port"], _CLONE))
    variables = _PORTS[board["port"]][0](board)
    for sub in _PORTS[board["port"]][2]:
        d = os.path.join(micropy_dir, sub)
        if sub == "lib/pico-sdk" and os.environ.get("PICO_SDK_PATH_OVERRIDE"):
            continue
        if not os.path.isdir(d) or not os.listdir(d):
            raise BuildError("%s is empty: fetch the submodules %s needs with `make -C %s %s submodules`"
                             % (sub, board["name"], port_dir, " ".join(variables)))


def check_toolchain(board, env=None):
    """Raise BuildError naming what to install when the port's toolchain is not usable from env."""
    env = os.environ if env is None else env
    if not _which("make", env) or not (_which(env.get("CC", "cc"), env) or _which("gcc", env)):
        raise BuildError("no C compiler or make (MicroPython's mpy-cross is built with them): " + _CC)
    port = board["port"]
    if port == "unix":
        pc = _which("pkg-config", env)
        if not pc or subprocess.call([pc, "--exists", "libffi"], env=env) != 0:
            raise BuildError("libffi not found through pkg-config (the unix standard variant has ffi): " + _FFI)
    elif port == "esp32":
        if not env.get("IDF_PATH") or not _which("idf.py", env):
            raise BuildError("ESP-IDF not found (%s): %s" % (
                "IDF_PATH is not set" if not env.get("IDF_PATH") else "idf.py is not on PATH", _IDF))
    elif port == "rp2":
        for tool in ("arm-none-eabi-gcc", "cmake"):
            if not _which(tool, env):
                raise BuildError("%s not found (the rp2 port builds with the pico-sdk, %s and CMake): %s"
                                 % (tool, "arm-none-eabi-gcc", _ARM))


# platform.machine() -> the mpy-cross -march of the unix port's native emitter on that host
_HOST_ARCHS = {"x86_64": "x64", "amd64": "x64", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86",
               "riscv64": "rv64imc", "armv6l": "armv6", "armv7l": "armv6"}


def host_arch(machine=None):
    """Return mpy-cross's -march for the machine this runs on (the unix port's), or None when it has none."""
    import platform

    return _HOST_ARCHS.get((machine or platform.machine()).lower())


def port_variables(board, machine=None):
    """Return the make variables of the port build: the board, and for unix the freezer's native arch."""
    variables = _PORTS[board["port"]][0](board)
    if board["port"] == "unix":
        # The unix port's Makefile gives the freezer no -march, and mpy-cross
        # then rejects @micropython.native ("invalid arch"): the frozen code is
        # compiled for the host that will run it.
        arch = host_arch(machine)
        if arch is None:
            raise BuildError("MicroPython has no native code emitter for this host (%s), which ws2's "
                             "@micropython.native functions need when frozen into the unix port; use the "
                             "PyPI interpreter of the virtual board instead" % (machine or __import__("platform").machine()))
        variables.append("MPY_CROSS_FLAGS=-march=" + arch)
    return variables


def picotool(board, env):
    """For rp2: (build dir suffix, CMake argument, what the build does about picotool); None for other ports.

    pico-sdk needs picotool to make the UF2 and downloads and builds it when
    none is installed - which fails offline. An installed one is named by
    picotool_DIR; without it the build sets PICO_NO_PICOTOOL and this tool makes
    the UF2 from firmware.bin. Each way has its own build directory, because
    CMake keeps the first configuration of a directory.
    """
    if board["port"] != "rp2":
        return None
    d = env.get("picotool_DIR")
    if d:
        if not any(os.path.isfile(os.path.join(d, n)) for n in ("picotoolConfig.cmake", "picotool-config.cmake")):
            raise BuildError("picotool_DIR=%s holds no picotoolConfig.cmake: point it at an installed picotool's "
                             "lib/cmake/picotool, or unset it to build without picotool" % d)
        return "", "-Dpicotool_DIR=" + d, "picotool from picotool_DIR=%s makes firmware.uf2" % d
    return ("-nopicotool", "-DPICO_NO_PICOTOOL=1", "no picotool (picotool_DIR is not set): MicroPython is built with "
            "PICO_NO_PICOTOOL=1 and firmware.uf2 is made from firmware.bin here")


def commands(board, micropy_dir, jobs=None, machine=None, env=None):
    """Return (build directory, [argv]) of the MicroPython build for the board."""
    port_dir = os.path.join(micropy_dir, "ports", board["port"])
    tool = picotool(board, os.environ if env is None else env)
    build = "build-ws2-" + board["name"] + (tool[0] if tool else "")
    man = os.path.join(board["dir"], "manifest.py")
    jobs = ["-j%d" % (jobs or os.cpu_count() or 1)]
    argv = [["make", "-C", os.path.join(micropy_dir, "mpy-cross")] + jobs,
            ["make", "-C", port_dir] + port_variables(board, machine) + ["BUILD=" + build,
                                                                         "FROZEN_MANIFEST=" + man] + jobs]
    return os.path.join(port_dir, build), argv


def _run_logged(argv, log_file, out, env):
    # Stream the build's output to the console and the log; return the exit code.
    out("$ " + " ".join(argv))
    log_file.write("$ %s\n" % " ".join(argv))
    log_file.flush()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    except OSError as e:
        log_file.write("%s: %s\n" % (argv[0], e.strerror))
        return 127
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        log_file.write(line)
        out(line.rstrip("\n"))
    return p.wait()


def build(board_name, micropy_dir, out_dir=None, jobs=None, out=print, env=None):
    """Build the board's firmware with ws2 frozen in; return the image paths copied into out_dir."""
    board = boards.load(board_name)
    check_tree(micropy_dir, board)
    micropy_dir = os.path.abspath(micropy_dir)
    man = os.path.join(board["dir"], "manifest.py")
    manifest.read(man)  # a manifest error now, not after a long build
    env = dict(os.environ if env is None else env)
    check_toolchain(board, env)
    out_dir = out_dir or os.path.join(ROOT, "build", board_name)
    os.makedirs(out_dir, exist_ok=True)
    build_dir, argv = commands(board, micropy_dir, jobs, env=env)
    tool = picotool(board, env)
    if tool:
        # The port's Makefile appends its own arguments to CMAKE_ARGS from the
        # environment (on make's command line it would replace them).
        env["CMAKE_ARGS"] = (env.get("CMAKE_ARGS", "") + " " + tool[1]).strip()
        out("picotool: " + tool[2])
    if board["port"] == "rp2":
        _reconfigure_if_stale(build_dir, man)
    log_path = os.path.join(out_dir, "firmware-build.log")
    t0 = time.monotonic()
    with open(log_path, "w") as log_file:
        for cmd in argv:
            rc = _run_logged(cmd, log_file, out, env)
            if rc:
                break
    if rc:
        raise BuildError(_failure(board, micropy_dir, man, argv, rc, log_path))
    images = [n for n in _PORTS[board["port"]][1] if os.path.isfile(os.path.join(build_dir, n))]
    if not images:
        raise BuildError("the build finished but left none of %s in %s (see %s)" % (
            ", ".join(_PORTS[board["port"]][1]), build_dir, os.path.relpath(log_path, os.getcwd())))
    fits = _check_partition(board, build_dir, images, out_dir, out)
    copied = []
    for name in images:
        copied.append(_install(os.path.join(build_dir, name), os.path.join(out_dir, name)))
    _write_sources(man, out_dir)
    if tool and "firmware.uf2" not in images and "firmware.bin" in images:
        copied.insert(0, _uf2_from_bin(board, os.path.join(out_dir, "firmware.bin"), os.path.join(out_dir, "firmware.uf2")))
    out("")
    for p in copied:
        out("%-40s %9d B" % (os.path.relpath(p, os.getcwd()), os.path.getsize(p)))
    if fits:
        out(flash.margin_text(*fits))
    out("built %s with ws2 frozen in %.0f s (log: %s)" % (board_name, time.monotonic() - t0,
                                                        os.path.relpath(log_path, os.getcwd())))
    if board["port"] == "unix":
        out("use it: make test MICROPYTHON=%s" % _shown(copied[0]))
    else:
        out("flash it: make flash BOARD=%s PORT=..." % board_name)
    return copied


SOURCES = "frozen-sources.json"  # beside the image: the sha256 of each of this repository's frozen files


def _digests(man):
    # {module path in the image: sha256 of its source} for the files of this repository the manifest freezes.
    out = {}
    for f in manifest.read(man).files:
        if os.path.commonpath([os.path.abspath(f.full_path), ROOT]) == ROOT:
            with open(f.full_path, "rb") as fh:
                out[f.target_path] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _write_sources(man, out_dir):
    # What the image was frozen from, so that a run on it can tell a tree that has moved on since.
    tmp = os.path.join(out_dir, SOURCES + ".%d.tmp" % os.getpid())
    with open(tmp, "w") as f:
        json.dump({"manifest": os.path.relpath(man, ROOT), "files": _digests(man)}, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out_dir, SOURCES))


def stale_sources(image):
    """Return the frozen files of image that differ from this tree ([] when they match or nothing was recorded)."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(image)), SOURCES)) as f:
            rec = json.load(f)
        now = _digests(os.path.join(ROOT, rec["manifest"]))
    except (OSError, ValueError, KeyError, manifest.ManifestError):
        return []
    return sorted(p for p in set(rec["files"]) | set(now) if rec["files"].get(p) != now.get(p))


def has_ws2(exe):
    """Return True when the unix-port interpreter exe has ws2 frozen in (then /lib's copy is never imported)."""
    # A frozen package's __path__ keeps the '.frozen/' prefix (its __file__ does not).
    code = "import sys\nsys.path[:] = ['.frozen']\ntry:\n    import ws2\n    print(ws2.__path__)\nexcept ImportError:\n    pass"
    try:
        r = subprocess.run([os.path.abspath(exe), "-c", code], capture_output=True, text=True, timeout=60, cwd="/",
                           stdin=subprocess.DEVNULL, env=dict(os.environ, WS2_ROOT=os.devnull))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.stdout.startswith(".frozen/")


def _reconfigure_if_stale(build_dir, man):
    # The rp2 Makefile runs CMake only while its build directory has no
    # Makefile, so a manifest given later (another checkout of this
    # repository) would be ignored for the one cached. Then CMake runs again.
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            cached = [l.split("=", 1)[1].strip() for l in f if l.startswith("MICROPY_FROZEN_MANIFEST:")]
    except OSError:
        return
    if cached and cached[0] != man:
        try:
            os.remove(os.path.join(build_dir, "Makefile"))
        except OSError:
            pass


def _shown(path):
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def _install(src, dst):
    tmp = dst + ".%d.tmp" % os.getpid()
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    return dst


def _uf2_from_bin(board, bin_path, dst):
    with open(bin_path, "rb") as f:
        data = f.read()
    tmp = dst + ".%d.tmp" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(flash.uf2_from_bin(data, int(board["flash_offset"], 16), int(board["uf2_families"][0], 16)))
    os.replace(tmp, dst)
    return dst


def _check_partition(board, build_dir, images, out_dir, out):
    # The image must end before the filesystem: the linker does not check it
    # (its flash region is the whole chip), and an overlapping image is
    # flashed without complaint and corrupts the filesystem or itself.
    if boards.firmware_partition(board) is None:
        if board["flasher"] != "none":
            out("no firmware partition in %s's board.json (flash_size_kb, filesystem_kb): the image size is not "
                "checked against its filesystem" % board["name"])
        return None
    name = "firmware.bin" if "firmware.bin" in images else images[0]
    path = os.path.join(build_dir, name)
    try:
        return flash.check_fits(board, path, error=BuildError)
    except BuildError:
        for n in _PORTS[board["port"]][1]:  # no stale image of an earlier build is left to be flashed instead
            try:
                os.remove(os.path.join(out_dir, n))
            except OSError:
                pass
        raise


def _failure(board, micropy_dir, man, argv, rc, log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    what = hint(text, board, micropy_dir, man)
    tail = "\n".join("  | " + line for line in text.rstrip().splitlines()[-12:])
    return "the MicroPython build of %s failed (exit code %d): %s.\nlast lines of %s:\n%s" % (
        board["name"], rc, what or "see the log for the first error", os.path.relpath(log_path, os.getcwd()), tail)


__all__ = ["build", "commands", "check_tree", "check_toolchain", "stale_sources", "has_ws2", "BuildError"]
