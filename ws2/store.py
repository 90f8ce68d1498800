# ws2/store: power-safe small files (catalog, settings) as two checksummed slots.
# MIT licence; part of ws2 for MicroPython.
#
# Why two slots rather than write-then-rename: rename over an existing file is
# not atomic on FAT, and a torn write on any filesystem can leave a half file.
# Each save goes to the slot that does NOT hold the newest good copy, with a
# sequence number and a CRC; load picks the good slot with the newest
# sequence. A power cut at any byte therefore leaves the old or the new data:
# the slot being written may be empty, half written or stale, but the other
# one is untouched and still passes its CRC.
import os
import struct
from binascii import crc32

from ws2 import board

_MAGIC = b"WS2S"
_HEADER = "<4sIII"  # magic, sequence, payload length, crc32(payload)
_HEADER_SIZE = 16
_HALF = 0x80000000  # sequence numbers compare modulo 2**32 (serial-number arithmetic)
MAX_PAYLOAD = 32768  # a slot larger than this is not ours; never read it into a small heap


def header(seq, payload):
    """Return the 16-byte header of a slot holding payload with sequence number seq."""
    return struct.pack(_HEADER, _MAGIC, seq & 0xFFFFFFFF, len(payload), crc32(payload) & 0xFFFFFFFF)


def frame(seq, payload):
    """Return the bytes of one slot holding payload with sequence number seq."""
    return header(seq, payload) + payload


def unframe(data):
    """Return (seq, payload) from slot bytes, or None when torn or corrupt."""
    if data is None or len(data) < _HEADER_SIZE:
        return None
    magic, seq, n, crc = struct.unpack(_HEADER, data[:_HEADER_SIZE])
    if magic != _MAGIC or len(data) - _HEADER_SIZE != n or n > MAX_PAYLOAD:
        return None
    payload = data[_HEADER_SIZE:]
    if (crc32(payload) & 0xFFFFFFFF) != crc:
        return None
    return seq, payload


def newer(a, b):
    """True when sequence number a is newer than b (they wrap at 2**32)."""
    return a != b and ((a - b) & 0xFFFFFFFF) < _HALF


def pick(slot0, slot1):
    """Return (index, seq, payload) of the newest good slot, or None."""
    a = unframe(slot0)
    b = unframe(slot1)
    if a and (not b or not newer(b[0], a[0])):
        return 0, a[0], a[1]
    if b:
        return 1, b[0], b[1]
    return None


def _path(name, i):
    return "%s/%s.%d" % (board.root(), name, i)


def _read(path):
    try:
        if os.stat(path)[6] > MAX_PAYLOAD + _HEADER_SIZE:
            return b""  # present but not a slot of ours: reads as corrupt, costs no RAM
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _ensure_root():
    # Every missing level: on the unix port the root may be $WS2_ROOT, any depth.
    r = board.root()
    at = 0
    while at >= 0:
        at = r.find("/", at + 1)
        try:
            os.mkdir(r if at < 0 else r[:at])
        except OSError:
            pass


def exists(name):
    """Return True when either slot of name is present (good or not)."""
    for i in (0, 1):
        try:
            os.stat(_path(name, i))
            return True
        except OSError:
            pass
    return False


def load(name):
    """Return the newest good payload of name, or None when there is none."""
    got = pick(_read(_path(name, 0)), _read(_path(name, 1)))
    return got[2] if got else None


def save(name, payload):
    """Write payload as the new version of name without ever risking the old one."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("%s: %d bytes is more than a slot holds (%d)" % (name, len(payload), MAX_PAYLOAD))
    _ensure_root()
    got = pick(_read(_path(name, 0)), _read(_path(name, 1)))
    if got:
        target, seq = 1 - got[0], got[1] + 1
    else:
        target, seq = 0, 1
    # Header and payload are written separately: no third copy of the
    # payload in RAM, and a tear between them is caught like any other.
    with open(_path(name, target), "wb") as f:
        f.write(header(seq, payload))
        f.write(payload)
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
