# firmware/deploy: copy the bundle to /lib on a board, only what changed, surviving resets.
# MIT licence; part of ws2 for MicroPython.
#
# One round trip asks the board for the sha256 of every file and for the
# strays in the packages ws2 owns (/lib/ws2, /lib/providers); then only the
# changed files are copied, each written beside its place and renamed over
# it, so a reset mid-copy leaves the old file or a stray .part, never half a
# module. If the board resets or stops answering during the copy, deploy
# reconnects and starts over from the hashes, which copies only what is still
# missing; a deploy that gives up is repaired by the next one.
#
# Deploy owns only what it installed: the board keeps the list of those files
# in MANIFEST, and a file a previous deploy installed that the bundle no
# longer has is removed (a module removed from the sources would otherwise
# stay importable), as is a .py beside one of the bundle's .mpy files
# (MicroPython prefers the .py). Anything else in /lib - a user's own
# provider, packages installed with mip - is left alone. Before removing a
# module deploy reads the board's catalogs and refuses when an entry names
# it: a catalog pointing at a missing module fails every socket it matches.
import ast
import hashlib
import os
import shutil
import tempfile
import time

from firmware import ROOT, FirmwareError, boards, bundle
from firmware.device import Board, DeviceError

OWNED = tuple("/lib/" + p for p in bundle.PACKAGES)
MANIFEST = "/.ws2/deployed"  # the files the last deploy installed, one board path a line

# Runs on the board: hashes of the given paths (None when missing) and the strays in the owned dirs.
_SCAN = """
import hashlib, binascii, os
def _o(p):
    try:
        return open(p, 'rb')
    except OSError:
        return None
def _h(p):
    f = _o(p)
    if f is None:
        return None
    s = hashlib.sha256()
    b = bytearray(512)
    while True:
        n = f.readinto(b)
        if not n:
            break
        s.update(b[:n] if n < 512 else b)
    f.close()
    return binascii.hexlify(s.digest()).decode()
_p = %r
_x = []
def _walk(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        q = d + '/' + n
        try:
            dir_ = os.stat(q)[0] & 0x4000
        except OSError:
            continue
        if dir_:
            _walk(q)
        elif q not in _p:
            _x.append(q)
for _d in %r:
    _walk(_d)
def _r(p):
    f = _o(p)
    if f is None:
        return None
    d = f.read()
    f.close()
    return d
print(repr(([_h(p) for p in _p], _x, [_r(p) for p in %r])))
del _o, _h, _p, _x, _walk, _r
"""
# What the scan reads besides hashes: the manifest, then both slots of each catalog (ws2/store.py's files).
_READS = (MANIFEST, "/.ws2/catalog.0", "/.ws2/catalog.1", "/.ws2/nscatalog.0", "/.ws2/nscatalog.1")
_MKDIRS = """
import os
for d in %r:
    try:
        os.mkdir(d)
    except OSError:
        pass
"""
_WHERE = "import ws2\nprint(repr((getattr(ws2, '__file__', None), getattr(ws2, '__path__', None))))"
_IMPORTS = "import ws2, providers.wspm\nws2.WSAStartup"


class DeployError(FirmwareError):
    """The board could not be brought to the bundle's state, or the bundle does not import there."""


def files_for(board_name, out_dir=None):
    """Return [(local path, board path)] of what a deploy puts on the board (from build/<BOARD>/ by default)."""
    out_dir = out_dir or os.path.join(ROOT, "build", board_name)
    pairs = []
    lib = os.path.join(out_dir, "lib")
    for top, _, names in os.walk(lib):
        for n in sorted(names):
            if n.endswith(".tmp"):
                continue
            local = os.path.join(top, n)
            pairs.append((local, "/lib/" + os.path.relpath(local, lib).replace(os.sep, "/")))
    boot = os.path.join(out_dir, "boot.py")
    if os.path.exists(boot):
        pairs.append((boot, "/boot.py"))
    return sorted(pairs, key=lambda p: p[1])


# sys.implementation._mpy >> 10 on the board: the native code it runs (MicroPython's MP_NATIVE_ARCH_*).
_ARCHES = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
           "xtensawin", "rv32imc", "rv64imc")


def board_arch(board):
    """The .mpy native arch the connected board runs, or None when it does not say."""
    try:
        v = int(board.exec("import sys\nprint(getattr(sys.implementation, '_mpy', 0))").strip())
    except Exception:
        return None
    k = v >> 10
    return _ARCHES[k] if k < len(_ARCHES) else None


def snapshot(board_name, build=True, arch=None):
    """Return [(board path, bytes)] to deploy: freshly compiled (in a private directory) or from build/<BOARD>/.

    arch: compile for this .mpy arch instead of the board's (the hot paths are native code, which only
    loads on its own arch: a virtual board runs a host arch whatever board it stands for).
    """
    if not build:
        pairs = files_for(board_name)
        if not pairs:
            raise DeployError("build/%s/ is empty: run `make bundle BOARD=%s` first" % (board_name, board_name))
        return [(path, _read(local)) for local, path in pairs]
    # A private build: concurrent builds of the same board (another make or test run) cannot change it under us.
    tmp = tempfile.mkdtemp(prefix="ws2-deploy-")
    try:
        bundle.build(board_name, out_dir=tmp, arch=arch)
        return [(path, _read(local)) for local, path in files_for(board_name, tmp)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def catalog_modules(reads):
    """Return {module path: [what names it]} from the board's catalogs (the scan's reads; defaults when absent)."""
    from ws2 import catalog, defcatalog, nscatalog, store

    out = {}
    got = store.pick(reads[1], reads[2])
    if got:
        try:
            entries, paths, _ = catalog.decode(got[2])
        except ValueError:
            got = None  # the board falls back to its default catalog
    if not got:
        entries, paths, _ = defcatalog.default_catalog()
    for e in entries:
        path = paths.get(e[catalog.I_PROVIDER_ID])
        if path:
            out.setdefault(path, []).append("catalog entry %d (%s)" % (e[catalog.I_CATALOG_ID], e[catalog.I_NAME]))
    got = store.pick(reads[3], reads[4])
    ns = None
    if got:
        try:
            ns = nscatalog.decode(got[2])
        except ValueError:
            pass
    for e in ns if ns is not None else nscatalog.default_entries():
        out.setdefault(e[nscatalog.I_PATH], []).append("namespace provider %r" % (e[nscatalog.I_IDENTIFIER],))
    return out


def _module(path):
    # "/lib/providers/mine.mpy" -> "providers.mine", "/lib/providers/ssllsp/__init__.mpy" -> "providers.ssllsp";
    # None outside /lib.
    if not path.startswith("/lib/") or not path.endswith((".py", ".mpy")):
        return None
    mod = path[5:].rsplit(".", 1)[0].replace("/", ".")
    return mod[:-9] if mod.endswith(".__init__") else mod


def plan_removals(bundle_paths, strays, reads):
    """Return the board paths a deploy removes: what the last deploy installed and the bundle no longer has,
    and .py files that would shadow one of the bundle's .mpy files; DeployError when a catalog names one."""
    owned = set((reads[0] or b"").decode().split())
    keep = set(bundle_paths)
    # Deploy's own: shadowing sources, and the .part files of copies a reset cut short.
    ours = {p[:-4] + ".py" for p in keep if p.endswith(".mpy")} | {p + ".part" for p in keep}
    remove = sorted(p for p in set(strays) | owned if p not in keep and (p in owned or p in ours))
    left = (set(strays) | keep) - set(remove)
    named = catalog_modules(reads)
    for path in remove:
        mod = _module(path)
        if mod is None or any(_module(p) == mod for p in left):
            continue
        # A named provider that is a package needs every module in it, not just its __init__.
        for name in named:
            if mod == name or mod.startswith(name + "."):
                raise DeployError("refusing to remove %s: %s names the module %s, which would then no longer "
                                  "exist or be whole. Point the catalog elsewhere first (ws2.WSCDeinstallProvider / "
                                  "WSCUpdateProvider, or ws2.catalog.reset()), or deploy a bundle that has it"
                                  % (path, " and ".join(named[name]), name))
    return remove


def _sync(board, files, log):
    # One pass: scan, copy what differs, remove what deploy owned and no longer ships.
    # Returns (copied paths, removed paths, bytes copied).
    paths = [p for p, _ in files]
    hashes, strays, reads = ast.literal_eval(board.exec(_SCAN % (paths, OWNED, _READS), timeout=60).strip())
    remove = plan_removals(paths, strays, reads)  # refuses before anything changes
    todo = [(p, data) for (p, data), have in zip(files, hashes) if hashlib.sha256(data).hexdigest() != have]
    # The manifest first lists every file deploy owns now or is about to: a reset
    # mid-copy leaves nothing behind that the next deploy would not know.
    owned = sorted(set(paths) | set((reads[0] or b"").decode().split()))
    _write_manifest(board, owned, reads[0])
    if todo:
        dirs = sorted({p[:i] for p, _ in todo for i in range(1, len(p)) if p[i] == "/"})
        board.exec(_MKDIRS % (dirs,))
    copied = []
    nbytes = 0
    for i, (path, data) in enumerate(todo):
        board.write_file(path + ".part", data)
        # Relative to "/": the unix port's VfsPosix mounted with a root
        # mishandles an absolute rename destination; boards accept both.
        board.exec("import os\nos.chdir('/')\nos.rename(%r, %r)" % (path[1:] + ".part", path[1:]))
        copied.append(path)
        nbytes += len(data)
        log("  [%*d/%d] %-32s %6d B" % (len(str(len(todo))), i + 1, len(todo), path, len(data)))
    for path in remove:
        board.exec("import os\ntry:\n    os.remove(%r)\nexcept OSError:\n    pass" % path)
        why = ("a copy cut short" if path.endswith(".part") else "it would shadow %s.mpy" % path[:-3]
               if path[:-3] + ".mpy" in paths else "a deploy installed it; the bundle no longer has it")
        log("  removed %s (%s)" % (path, why))
    _write_manifest(board, sorted(paths), "\n".join(owned).encode() + b"\n")
    return copied, remove, nbytes


def _write_manifest(board, paths, have):
    text = ("\n".join(paths) + "\n").encode()
    if text == have:
        return
    d = MANIFEST.rsplit("/", 1)[0]
    board.exec(_MKDIRS % ([d],))
    board.write_file(MANIFEST + ".part", text)
    board.exec("import os\nos.chdir('/')\nos.rename(%r, %r)" % (MANIFEST[1:] + ".part", MANIFEST[1:]))


def _reconnect(board, target, baud):
    # After a reset: interrupt, soft-reset into the raw REPL; if the port itself went away
    # (native USB boards re-enumerate), reopen it when we opened it ourselves.
    try:
        board.recover()
        return board
    except Exception:
        if isinstance(target, Board):
            raise
    try:
        board.close()
    except Exception:
        pass
    deadline = time.monotonic() + 10
    while True:
        try:
            return Board(target, baud=baud)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def deploy(target, board_name, log=print, build=True, check=True, attempts=3, baud=115200, files=None):
    """Copy changed files to the board (a Board or a serial device path); return the board paths copied.

    files: [(board path, bytes)] to deploy instead of a fresh snapshot() of the bundle.
    """
    t0 = time.monotonic()
    board = target if isinstance(target, Board) else Board(target, baud=baud)
    try:
        if files is None:
            arch = boards.load(board_name)["mpy_arch"]
            runs = board_arch(board) if build else None
            if runs and runs != arch:
                log("  the board runs %s code, not %s (a virtual board): the bundle is compiled for %s"
                    % (runs, arch, runs))
                arch = runs
            files = snapshot(board_name, build, arch)
        for attempt in range(1, attempts + 1):
            try:
                copied, removed, nbytes = _sync(board, files, log)
                break
            except DeployError:  # a refusal: nothing was changed, and retrying would not help
                raise
            except Exception as e:  # mpremote's TransportError, DeviceError/Timeout, a scan cut short by a reset
                if attempt == attempts:
                    raise DeployError("the board stopped answering during the copy (%s); %d attempt(s) made. Run "
                                      "the deploy again: it copies only what is still missing"
                                      % (_short(e), attempt)) from None
                log("  the board reset during the copy (%s); reconnecting and resuming" % _short(e))
                try:
                    board = _reconnect(board, target, baud)
                except Exception as e2:
                    raise DeployError("the board reset during the copy and did not come back (%s). Run the "
                                      "deploy again when it answers: it copies only what is still missing"
                                      % _short(e2)) from None
        if check:
            board.soft_reset()
            _check(board, log)
        kb = nbytes / 1024.0
        log("deployed %s: %d of %d files changed (%.1f KB)%s in %.1f s" % (
            board_name, len(copied), len(files), kb, ", %d removed" % len(removed) if removed else "",
            time.monotonic() - t0))
        return copied
    finally:
        if board is not target:
            board.close()


def _check(board, log):
    # After the soft reset: ws2 must be the package from /lib (or frozen), and import.
    try:
        where, path = ast.literal_eval(board.exec(_WHERE).strip().splitlines()[-1])
        if where is None and not str(path).startswith(("/lib", ".frozen")):
            raise DeployError("`import ws2` on the board finds the directory %r (no __init__), not the package in "
                              "/lib: a ws2 data directory in the current directory shadows /lib/ws2, since "
                              "sys.path starts with ''" % (path,))
        board.exec(_IMPORTS)
    except DeviceError as e:
        raise DeployError("the bundle is on the board but does not import: %s" % str(e).splitlines()[-1])
    if str(path).startswith(".frozen"):  # a frozen package's __path__; its __file__ has no '.frozen/'
        log("note: ws2 is frozen into this firmware; the frozen copy is imported, not /lib "
            "('.frozen' comes first on sys.path)")


def _short(e):
    text = str(e).strip().splitlines()
    return (text[-1] if text else type(e).__name__)[:120]
