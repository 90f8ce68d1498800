# firmware/boards: reading and checking boards/<BOARD>/board.json.
# MIT licence; part of ws2 for MicroPython.
import json
import os

from firmware import ROOT, FirmwareError

BOARDS_DIR = os.path.join(ROOT, "boards")

# field -> (type(s), required for which flashers: None = every board)
_FIELDS = {
    "name": (str, None), "description": (str, None), "port": (str, None), "micropython_board": (str, None),
    "chip": (str, None), "mpy_arch": (str, None), "mpy_version": (str, None), "heap_kb": (int, None),
    "max_sockets": (int, None), "flash_budget_kb": (int, None), "flash_budget_tcp_kb": (int, None), "flasher": (str, None), "image": (str, None),
    "baud": (int, None), "wifi": (bool, None), "providers": (list, None), "ca_bundle": (str, None),
    "flash_offset": ((str, type(None)), None),
    "esptool_chip": (str, ("esptool",)), "flash_mode": (str, ("esptool",)), "flash_size": (str, ("esptool",)),
    "flash_baud": (int, ("esptool",)), "uf2_families": (list, ("uf2",)), "drive_label": (str, ("uf2",)),
    "usb_ids": (list, ("esptool", "uf2")), "machine": (str, ("esptool", "uf2")),
}
PORTS = {"esp32": "esptool", "rp2": "uf2", "unix": "none"}
ARCHS = ("x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa", "xtensawin",
         "rv32imc", "rv64imc")


class BoardError(FirmwareError):
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
        try:
            b = json.load(f)
        except ValueError as e:
            raise BoardError("%s is not valid JSON: %s" % (os.path.relpath(path, ROOT), e))
    b["dir"] = os.path.dirname(path)
    return b


def problems(board):
    """Return what is wrong with a loaded board.json, as a list of sentences (empty when it is fine)."""
    out = []
    flasher = board.get("flasher")
    for key, (types, needed_by) in _FIELDS.items():
        if needed_by is not None and flasher not in needed_by:
            continue
        if key not in board:
            out.append("missing %r" % key)
        elif not isinstance(board[key], types) or (types is int and isinstance(board[key], bool)):
            out.append("%r is %r, of the wrong type" % (key, board[key]))
    if out:
        return out
    if board["name"] != os.path.basename(board["dir"]):
        out.append("name %r differs from its folder %r" % (board["name"], os.path.basename(board["dir"])))
    if PORTS.get(board["port"]) != flasher:
        out.append("port %r is flashed with %r, not %r" % (board["port"], PORTS.get(board["port"]), flasher))
    if board["mpy_arch"] not in ARCHS:
        out.append("mpy_arch %r is not an mpy-cross -march value" % board["mpy_arch"])
    if flasher != "none":
        try:
            int(board["flash_offset"], 16)
        except (TypeError, ValueError):
            out.append("flash_offset %r is not a hex address" % board["flash_offset"])
    for p in board["providers"]:
        if not isinstance(p, str) or not p.isidentifier():
            out.append("provider %r is not a module name" % (p,))
    for u in board.get("usb_ids", ()):
        if not (isinstance(u, str) and len(u) == 9 and u[4] == ":" and _is_hex(u[:4]) and _is_hex(u[5:])):
            out.append("usb id %r is not VID:PID in hex" % (u,))
    if not 0 < board["max_sockets"] <= 255:
        out.append("max_sockets %d is outside 1..255 (the handle's slot field)" % board["max_sockets"])
    return out


def _is_hex(s):
    try:
        int(s, 16)
        return True
    except ValueError:
        return False


def heap_words(board):
    """The -X heapsize= value for the unix port: the board's heap scaled to the host's word size.

    Scaling keeps the virtual board as tight as the real one: a 64-bit unix
    build uses 8-byte words where ESP32 and RP2040 use 4-byte ones, so a
    110 KB board gets 220 KB here, room for the same number of objects. (The
    port's own `Kw` suffix means this too, but fails to parse next to -i.)
    """
    import struct

    return "%dK" % (board["heap_kb"] * struct.calcsize("P") // 4)
