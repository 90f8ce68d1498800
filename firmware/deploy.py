# firmware/deploy: copy the bundle to /lib on a board, only what changed.
# MIT licence; part of ws2 for MicroPython.
import ast
import hashlib
import os

from firmware import ROOT, bundle
from firmware.device import Board

# Runs on the board: sha256 of each path, None when missing (one round trip for all files).
_HASHES = """
import hashlib, binascii
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    s = hashlib.sha256()
    while True:
        b = f.read(512)
        if not b:
            break
        s.update(b)
    f.close()
    return binascii.hexlify(s.digest()).decode()
print([_h(p) for p in %r])
"""
_MKDIRS = """
import os
for d in %r:
    try:
        os.mkdir(d)
    except OSError:
        pass
"""


def files_for(board_name, out_dir=None):
    """Return [(local path, board path)] of what a deploy puts on the board."""
    out_dir = out_dir or os.path.join(ROOT, "build", board_name)
    pairs = []
    lib = os.path.join(out_dir, "lib")
    for top, _, names in os.walk(lib):
        for n in sorted(names):
            local = os.path.join(top, n)
            pairs.append((local, "/lib/" + os.path.relpath(local, lib).replace(os.sep, "/")))
    boot = os.path.join(out_dir, "boot.py")
    if os.path.exists(boot):
        pairs.append((boot, "/boot.py"))
    return sorted(pairs, key=lambda p: p[1])


def deploy(target, board_name, log=print, build=True, check=True):
    """Build (optionally) and copy changed files to the board; return the board paths copied."""
    if build:
        bundle.build(board_name)
    pairs = files_for(board_name)
    board = target if isinstance(target, Board) else Board(target)
    try:
        paths = [p for _, p in pairs]
        remote = ast.literal_eval(board.exec(_HASHES % (paths,), timeout=60).strip())
        dirs = sorted({p[:i] for p in paths for i in range(1, len(p)) if p[i] == "/"})
        board.exec(_MKDIRS % (dirs,))
        copied = []
        for (local, path), have in zip(pairs, remote):
            with open(local, "rb") as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() == have:
                continue
            # Write beside, then rename: a reset mid-copy leaves the old file
            # or a stray .part, never a half module, and the next deploy repairs it.
            board.write_file(path + ".part", data)
            # Relative to "/": the unix port's VfsPosix mounted with a root
            # mishandles an absolute rename destination; boards accept both.
            board.exec("import os\nos.chdir('/')\nos.rename(%r, %r)" % (path[1:] + ".part", path[1:]))
            copied.append(path)
            log("  copied %s (%d B)" % (path, len(data)))
        if check:
            board.soft_reset()
            board.exec("import ws2, providers.wspm")
        log("deployed %s: %d of %d files changed" % (board_name, len(copied), len(pairs)))
        return copied
    finally:
        if board is not target:
            board.close()
