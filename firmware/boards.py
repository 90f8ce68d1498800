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
    "max_sockets": (int, None), "max_udp_sockets": (int, None), "flash_budget_kb": (int, None), "flash_budget_tcp_kb": (int, None), "flasher": (str, None), "image": (str, None),
    "baud": (int, None), "wifi": (bool, None), "providers": (list, None), "ca_bundle": (str, None),
    "flash_offset": ((str, type(None)), None),
    "esptool_chip": (str, ("esptool",)), "flash_mode": (str, ("esptool",)), "flash_size": (str, ("esptool",)),
    "flash_baud": (int, ("esptool",)), "uf2_families": (list, ("uf2",)), "drive_label": (str, ("uf2",)),
    "usb_ids": (list, ("esptool", "uf2")), "machine": (str, ("esptool", "uf2")),
}
# Keys a board may have; their type is checked when present. Without both
# partition keys a build's image size is not checked against the flash.
_OPTIONAL = {"flash_size_kb": int, "filesystem_kb": int}
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
            raise BoardError("%s is not valid JSON: %s" % (_shown(path), e))
    if not isinstance(b, dict):
        raise BoardError("%s holds %s, not an object of keys" % (_shown(path), _JSON_NAMES[type(b)]))
    b["dir"] = os.path.dirname(path)
    # Every command reads these keys: a board file without them is refused here,
    # naming the file and the key, instead of failing later with a bare KeyError.
    wrong = _field_problems(b, words=True)
    if wrong:
        raise BoardError("%s: %s" % (_shown(path), "; ".join(wrong)))
    return b


def _shown(path):
    # A board file as the user finds it: relative to the repository, or absolute when elsewhere.
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def each():
    """Return [(name, board or None, BoardError or None)] for every board folder, broken ones included."""
    out = []
    for name in names():
        try:
            out.append((name, load(name), None))
        except BoardError as e:
            out.append((name, None, e))
    return out


def usable():
    """Return the loaded board.json of every board that loads, skipping broken ones."""
    return [b for _, b, e in each() if e is None]


# JSON's names for what a key holds, for messages about board files.
_JSON_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object",
               float: "a number", type(None): "null"}


def _field_problems(board, words=False):
    out = []
    flasher = board.get("flasher")
    for key, (types, needed_by) in _FIELDS.items():
        if needed_by is not None and flasher not in needed_by:
            continue
        want = " or ".join(_JSON_NAMES[t] for t in (types if isinstance(types, tuple) else (types,)))
        if key not in board:
            out.append("missing key %r (%s)" % (key, want) if words else "missing %r" % key)
        elif not isinstance(board[key], types) or (types is int and isinstance(board[key], bool)):
            out.append("key %r is %s (%r) where %s is needed" % (key, _JSON_NAMES.get(type(board[key]), "?"),
                                                                board[key], want) if words else
                       "%r is %r, of the wrong type" % (key, board[key]))
    for key, t in _OPTIONAL.items():
        if key in board and (not isinstance(board[key], t) or isinstance(board[key], bool)):
            out.append("key %r is %s (%r) where %s is needed" % (key, _JSON_NAMES.get(type(board[key]), "?"),
                                                                board[key], _JSON_NAMES[t]) if words else
                       "%r is %r, of the wrong type" % (key, board[key]))
    return out


def problems(board):
    """Return what is wrong with a loaded board.json, as a list of sentences (empty when it is fine)."""
    out = _field_problems(board)
    if out:
        return out
    flasher = board["flasher"]
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
    part = firmware_partition(board)
    if part is not None and part[0] <= 0:
        out.append("the filesystem (%d KB) leaves no room for the firmware (%s)" % (board["filesystem_kb"], part[1]))
    if not 0 < board["max_sockets"] <= 255:
        out.append("max_sockets %d is outside 1..255 (the handle's slot field)" % board["max_sockets"])
    if not 0 < board["max_udp_sockets"] <= board["max_sockets"]:
        out.append("max_udp_sockets %d is outside 1..max_sockets (%d)" % (board["max_udp_sockets"], board["max_sockets"]))
    return out


def firmware_partition(board):
    """Return (bytes the image may take, how they are made up), or None (the virtual board, or no partition keys).

    The image is written at flash_offset (an ESP32's bootloader offset; the
    RP2's XIP base is flash offset 0) and must end before the filesystem,
    which takes the last filesystem_kb of the flash.
    """
    if board["flasher"] not in ("esptool", "uf2") or not all(k in board for k in _OPTIONAL):
        return None
    start = int(board["flash_offset"], 16) if board["flasher"] == "esptool" else 0
    limit = (board["flash_size_kb"] - board["filesystem_kb"]) * 1024 - start
    how = "flash %d KB - filesystem %d KB%s" % (board["flash_size_kb"], board["filesystem_kb"],
                                                 " - image offset 0x%x" % start if start else "")
    return limit, how


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
