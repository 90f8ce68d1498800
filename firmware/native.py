# firmware/native: the device modules without @micropython.native, for frozen armv6m firmware.
# MIT licence; part of ws2 for MicroPython.
#
# MicroPython's freezer (tools/mpy-tool.py, v1.27 and later) places frozen
# native functions for armv6m on 2-byte boundaries, and the runtime reads the
# first word of one with a 32-bit load (mp_obj_fun_native_get_prelude_ptr).
# On a Cortex-M0+ (RP2040) that load is a HardFault when the function is first
# called. .mpy files loaded from the filesystem are not affected (the loader
# copies native code into aligned RAM), nor are armv7m and xtensawin.
#
# So a frozen armv6m build freezes copies of the modules in which the
# decorator lines are blank: the same functions as bytecode, on the same line
# numbers. The copies are rewritten only when their text changes, since the
# freezer decides what to recompile by timestamps.
import os
import re

from firmware import ROOT

PACKAGES = ("ws2", "providers")
_DECORATOR = re.compile(r"^[ \t]*@micropython\.native[ \t]*(#.*)?$", re.M)


def strip(text):
    """Return text with every @micropython.native decorator line left blank (line numbers kept)."""
    return _DECORATOR.sub("", text)


def frozen_source(arch, root=ROOT, dest=None):
    """Return the base path a manifest freezes the packages from: root itself, or stripped copies for armv6m."""
    if arch != "armv6m":
        return root
    dest = dest or os.path.join(root, "build", "frozen-" + arch)
    keep = set()
    for pkg in PACKAGES:
        for d, dirs, names in os.walk(os.path.join(root, pkg)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for name in sorted(n for n in names if n.endswith(".py")):
                src = os.path.join(d, name)
                dst = os.path.join(dest, os.path.relpath(src, root))
                keep.add(dst)
                with open(src) as f:
                    text = strip(f.read())
                _write_if_changed(dst, text)
    for d, _, names in os.walk(dest):
        for name in names:
            p = os.path.join(d, name)
            if p not in keep:
                os.remove(p)  # a module removed from the source is not frozen either
    return dest


def _write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # a concurrent build reads the old file or the new one, never half of one
