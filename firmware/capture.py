# firmware/capture: fetch the capture layer's ring from a board and join it into one pcap file.
# MIT licence; part of ws2 for MicroPython. `make capture PORT=... [SECONDS=..]` runs this.
#
# The board keeps FILE and FILE.1, each a pcap file, written in turn
# (providers/capsink.py). Fetching reads both over the raw REPL and writes
# one pcap: the records of the file that starts earlier, then the other's; a
# record cut by a reset at the end of either file is left out, so any reader
# opens the result.
import os
import struct
import time

from firmware import ROOT, FirmwareError

DEFAULT_PATH = "/.ws2/capture.pcap"  # providers/capsink.default_file() on a board
_MAGIC = 0xA1B2C3D4


def records(data):
    """The whole records of pcap bytes as [(ts_us, caplen, origlen, frame)], and the file header."""
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != _MAGIC:
        raise FirmwareError("not a capture file of the capture layer (no little-endian pcap header)")
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack("<IIII", data[off : off + 16])
        if off + 16 + caplen > len(data):
            break  # cut by a reset while it was written
        out.append((sec * 1000000 + usec, caplen, origlen, bytes(data[off + 16 : off + 16 + caplen])))
        off += 16 + caplen
    return out, bytes(data[:24])


def join(parts):
    """One pcap file from the ring's files in the order of their first records (None or b'' are skipped)."""
    header = None
    body = []
    files = []
    for data in parts:
        if data:
            recs, hdr = records(data)
            header = header or hdr
            files.append(recs)
    files.sort(key=lambda recs: recs[0][0] if recs else 0)
    for recs in files:
        for ts, caplen, origlen, frame in recs:
            body.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, caplen, origlen) + frame)
    if header is None:
        raise FirmwareError("no capture on the board (start one with ws2.config(capture={...}) or SIO_CAPTURE_START)")
    return header + b"".join(body)


def fetch(board, path=DEFAULT_PATH):
    """Read the ring's two files from a firmware.device.Board and return them joined."""
    # A program stopped by Ctrl-C may still hold records in RAM: the running capture flushes them first.
    board.exec("import sys\n_m = sys.modules.get('providers.capture')\nif _m:\n    _m.flush()\ndel _m")
    parts = []
    for p in (path + ".1", path):
        try:
            parts.append(board.read_file(p))
        except Exception:  # that half does not exist (yet)
            parts.append(None)
    return join(parts)


def run(board_name, port, seconds=0, out=None, path=DEFAULT_PATH, baud=115200, log=print):
    """Wait seconds (the board's program keeps running and capturing), then fetch the ring into out."""
    from firmware.device import Board

    if not port:
        raise FirmwareError("capture needs --port (PORT=...), the serial device of the board that captured")
    if seconds:
        log("letting the board run for %d s ..." % seconds)
        time.sleep(seconds)
    b = Board(port, baud=baud, soft_reset=False)  # Ctrl-C stops the program; the ring's files are complete
    try:
        data = fetch(b, path)
    finally:
        b.close()
    out = out or os.path.join(ROOT, "build", "capture", "%s.pcap" % board_name)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    n = len(records(data)[0])
    log("%d packets, %d bytes -> %s (open with wireshark, or: tshark -r %s)" % (n, len(data), out, out))
    return out
