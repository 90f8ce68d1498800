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
import os
import shutil
import subprocess
import time

from firmware import ROOT, FirmwareError, boards, manifest

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

# (text in the build log, what to tell the user), first match wins
_LOG_HINTS = (
    ("ffi.h", _FFI), ("Package libffi was not found", _FFI), ("pkg-config: not found", _FFI),
    ("idf.py: not found", _IDF), ("idf.py: command not found", _IDF), ("IDF_PATH", _IDF),
    ("arm-none-eabi-gcc", _ARM), ("No CMAKE_C_COMPILER", _ARM), ("cmake: not found", _ARM),
    ("pico-sdk submodule is not initialized", "the pico-sdk submodule is missing: run `make -C %(port_dir)s "
                                               "BOARD=%(board)s submodules`"),
    ("not found in any known library", "micropython-lib is missing: run `make -C %(port_dir)s %(vars)s submodules`"),
    ("freeze error", "the manifest %(manifest)s was rejected by MicroPython's freezer (see the log)"),
    ("error compiling", "a frozen module did not compile with MicroPython's mpy-cross (see the log)"),
    ("overflowed", "the image no longer fits the board's flash: the frozen modules are too big"),
    ("does not fit", "the image no longer fits the board's flash partition: the frozen modules are too big"),
    ("cc: not found", _CC), ("gcc: not found", _CC), ("make: not found", _CC),
)


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


def commands(board, micropy_dir, jobs=None, machine=None):
    """Return (build directory, [argv]) of the MicroPython build for the board."""
    port_dir = os.path.join(micropy_dir, "ports", board["port"])
    build = "build-ws2-" + board["name"]
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
    build_dir, argv = commands(board, micropy_dir, jobs)
    log_path = os.path.join(out_dir, "firmware-build.log")
    t0 = time.monotonic()
    with open(log_path, "w") as log_file:
        for cmd in argv:
            rc = _run_logged(cmd, log_file, out, env)
            if rc:
                break
    if rc:
        raise BuildError(_failure(board, micropy_dir, man, argv, rc, log_path))
    copied = []
    for name in _PORTS[board["port"]][1]:
        src = os.path.join(build_dir, name)
        if not os.path.isfile(src):
            continue
        dst = os.path.join(out_dir, name)
        tmp = dst + ".%d.tmp" % os.getpid()
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
        copied.append(dst)
    if not copied:
        raise BuildError("the build finished but left none of %s in %s (see %s)" % (
            ", ".join(_PORTS[board["port"]][1]), build_dir, os.path.relpath(log_path, os.getcwd())))
    out("")
    for p in copied:
        out("%-40s %9d B" % (os.path.relpath(p, os.getcwd()), os.path.getsize(p)))
    out("built %s with ws2 frozen in %.0f s (log: %s)" % (board_name, time.monotonic() - t0,
                                                        os.path.relpath(log_path, os.getcwd())))
    if board["port"] == "unix":
        out("use it: make test MICROPYTHON=%s" % os.path.relpath(copied[0], ROOT))
    else:
        out("flash it: make flash BOARD=%s PORT=..." % board_name)
    return copied


def _failure(board, micropy_dir, man, argv, rc, log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    port_dir = os.path.join(micropy_dir, "ports", board["port"])
    what = None
    for needle, hint in _LOG_HINTS:
        if needle in text:
            what = hint % {"port_dir": port_dir, "board": board["micropython_board"], "manifest": man,
                           "vars": " ".join(_PORTS[board["port"]][0](board))}
            break
    tail = "\n".join("  | " + line for line in text.rstrip().splitlines()[-12:])
    return "the MicroPython build of %s failed (exit code %d): %s.\nlast lines of %s:\n%s" % (
        board["name"], rc, what or "see the log for the first error", os.path.relpath(log_path, os.getcwd()), tail)


__all__ = ["build", "commands", "check_tree", "check_toolchain", "BuildError"]
