# firmware/boards: reading boards/<BOARD>/board.json.
# MIT licence; part of ws2 for MicroPython.
import json
import os

from firmware import ROOT

BOARDS_DIR = os.path.join(ROOT, "boards")


class BoardError(Exception):
    """A board name or board file that cannot be used."""


def names():
    """Return the names of all boards, sorted."""
    return sorted(d for d in os.listdir(BOARDS_DIR) if os.path.isfile(os.path.join(BOARDS_DIR, d, "board.json")))


def load(name):
    """Return the board.json of board name as a dict (with its directory under 'dir')."""
    path = os.path.join(BOARDS_DIR, name, "board.json")
    if not os.path.isfile(path):
        raise BoardError("unknown board %r (boards: %s)" % (name, ", ".join(names())))
    with open(path) as f:
        b = json.load(f)
    b["dir"] = os.path.dirname(path)
    return b


def heap_words(board):
    """The -X heapsize= value for the unix port: the board's heap scaled to the host's word size.

    Scaling keeps the virtual board as tight as the real one: a 64-bit unix
    build uses 8-byte words where ESP32 and RP2040 use 4-byte ones, so a
    110 KB board gets 220 KB here, room for the same number of objects. (The
    port's own `Kw` suffix means this too, but fails to parse next to -i.)
    """
    import struct

    return "%dK" % (board["heap_kb"] * struct.calcsize("P") // 4)
