# ws2/store: power-safe small files (catalog, settings) as two checksummed slots.
# MIT licence; part of ws2 for MicroPython.
#
# Why two slots rather than write-then-rename: rename over an existing file is
# not atomic on FAT, and a torn write on any filesystem can leave a half file.
# Each save goes to the slot that does NOT hold the newest good copy, with a
# sequence number and a CRC; load picks the good slot with the highest
# sequence. A power cut at any byte therefore leaves the old or the new data.
import os
import struct
from binascii import crc32

from ws2 import board

_MAGIC = b"WS2S"
_HEADER = "<4sIII"  # magic, sequence, payload length, crc32(payload)
_HEADER_SIZE = 16


def frame(seq, payload):
    """Return the bytes of one slot holding payload with sequence number seq."""
    return struct.pack(_HEADER, _MAGIC, seq, len(payload), crc32(payload) & 0xFFFFFFFF) + payload


def unframe(data):
    """Return (seq, payload) from slot bytes, or None when torn or corrupt."""
    if data is None or len(data) < _HEADER_SIZE:
        return None
    magic, seq, n, crc = struct.unpack(_HEADER, data[:_HEADER_SIZE])
    payload = data[_HEADER_SIZE:]
    if magic != _MAGIC or len(payload) != n or (crc32(payload) & 0xFFFFFFFF) != crc:
        return None
    return seq, payload


def pick(slot0, slot1):
    """Return (index, seq, payload) of the newest good slot, or None."""
    a = unframe(slot0)
    b = unframe(slot1)
    if a and (not b or a[0] >= b[0]):
        return 0, a[0], a[1]
    if b:
        return 1, b[0], b[1]
    return None


def _path(name, i):
    return "%s/%s.%d" % (board.root(), name, i)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _ensure_root():
    r = board.root()
    mk = getattr(os, "makedirs", None)  # CPython; MicroPython's root is one level deep
    try:
        mk(r, exist_ok=True) if mk else os.mkdir(r)
    except OSError:
        pass


def exists(name):
    """Return True when either slot of name is present (good or not)."""
    return _read(_path(name, 0)) is not None or _read(_path(name, 1)) is not None


def load(name):
    """Return the newest good payload of name, or None when there is none."""
    got = pick(_read(_path(name, 0)), _read(_path(name, 1)))
    return got[2] if got else None


def save(name, payload):
    """Write payload as the new version of name without ever risking the old one."""
    _ensure_root()
    got = pick(_read(_path(name, 0)), _read(_path(name, 1)))
    if got:
        target, seq = 1 - got[0], got[1] + 1
    else:
        target, seq = 0, 1
    with open(_path(name, target), "wb") as f:
        f.write(frame(seq, payload))
        f.flush()
    if hasattr(os, "sync"):
        os.sync()


def remove(name):
    """Delete both slots of name (used by tests and factory reset)."""
    for i in (0, 1):
        try:
            os.remove(_path(name, i))
        except OSError:
            pass
