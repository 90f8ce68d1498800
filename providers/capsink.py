# providers/capsink: where the capture layer's pcap records go: a bounded ring on flash, or a host over TCP.
# MIT licence; part of ws2 for MicroPython.
#
# The ring is two plain pcap files of at most kb/2 KB each, FILE and FILE.1:
# a capture starts FILE afresh and appends records to it (flushed after each
# event); when the file in use would pass its half, writing moves to the
# other one, which starts afresh (no rename: it is not atomic on FAT, and
# not every VFS has it). So the capture never takes more than kb KB of flash,
# keeps the newest kb/2..kb KB of traffic, and each file is a valid pcap at
# every moment but the last record's write: a reset leaves files any pcap
# reader opens (a record cut by a power loss is at the end, where readers
# stop). `python -m firmware capture` fetches both and joins them in the
# order of their first timestamps.
import os

from providers import pcap
from ws2.errors import WSAError, WSAEINVAL

_KB_MIN = 4
_KB_MAX = 4096
_DEFAULT_KB = 64
_DEFAULT_FLUSH_MS = 250
_KEYS = "file kb to snap flush_ms"


def default_file():
    """The ring's default path: capture.pcap in ws2's data directory."""
    from ws2 import board

    return board.root() + "/capture.pcap"


def _bad(what, v):
    raise WSAError(WSAEINVAL, "capture setting %s must be %s, not %r" % (what[: what.find(" ")], what, v))


def check(cfg):
    """Return cfg normalised (a dict: file, kb, to, snap); {} means capture off; WSAEINVAL when wrong."""
    if not isinstance(cfg, dict):
        raise WSAError(WSAEINVAL, "capture must be a dict (keys: %s), or {} for off, not %r" % (_KEYS, cfg))
    if not cfg:
        return {}
    for k in cfg:
        if k not in _KEYS.split():
            raise WSAError(WSAEINVAL, "unknown capture setting %r (known: %s)" % (k, _KEYS))
    out = {"file": cfg.get("file", ""), "kb": cfg.get("kb", _DEFAULT_KB), "to": cfg.get("to"), "snap": cfg.get("snap", 0),
           "flush_ms": cfg.get("flush_ms", _DEFAULT_FLUSH_MS)}
    if not isinstance(out["file"], str):
        _bad("file a path string", out["file"])
    kb = out["kb"]
    if not isinstance(kb, int) or isinstance(kb, bool) or not _KB_MIN <= kb <= _KB_MAX:
        _bad("kb an int from %d to %d" % (_KB_MIN, _KB_MAX), kb)
    to = out["to"]
    if to is not None:
        if (not isinstance(to, (list, tuple)) or len(to) != 2 or not isinstance(to[0], str)
                or not isinstance(to[1], int) or not 0 < to[1] < 65536):
            _bad("to a (numeric ip, port) of a host that listens", to)
        out["to"] = [to[0], to[1]]
    snap = out["snap"]
    if not isinstance(snap, int) or isinstance(snap, bool) or not 0 <= snap <= 65535:
        _bad("snap the payload bytes kept per packet, 0 (all) to 65535", snap)
    f = out["flush_ms"]
    if not isinstance(f, int) or isinstance(f, bool) or not 0 <= f <= 60000:
        _bad("flush_ms the longest time records wait in RAM, 0 (flush every event) to 60000", f)
    return out


class Ring:
    """Two pcap files of at most kb/2 KB each on flash (see the module comment)."""

    def __init__(self, path, kb, snap=0):
        self.path = path or default_file()
        self.snap = snap or pcap.SNAPLEN
        self.half = kb * 512
        try:  # never more than half of what the filesystem has free (the old files are rewritten in place)
            st = os.statvfs(self.path[: self.path.rfind("/")] or "/")
            self.half = max(_KB_MIN * 256, min(self.half, st[0] * st[4] // 4))
        except (AttributeError, OSError):
            pass
        self.f = None
        self.size = 0
        self.name = None
        self._new(self.path)

    def _new(self, name=None):
        # Start the other file of the two afresh (FILE at the start of a capture) with the pcap header.
        if self.f is not None:
            self.f.close()
            self.f = None
        if name is None:
            name = self.path + ".1" if self.name == self.path else self.path
        self.name = name
        d = self.path[: self.path.rfind("/")]
        if d:
            try:
                os.mkdir(d)
            except OSError:
                pass
        self.f = open(name, "wb")
        hdr = pcap.file_header(self.snap)
        self.f.write(hdr)
        self.f.flush()
        self.size = len(hdr)

    def write(self, rec):
        """Append one record (rotating first when it would not fit this half)."""
        if self.size + len(rec) > self.half:
            self._new()
        self.f.write(rec)
        self.size += len(rec)

    def flush(self):
        """Push what was written to the filesystem."""
        if self.f is not None:
            self.f.flush()

    def close(self):
        """Flush and close the current file (both files stay readable)."""
        if self.f is not None:
            self.f.close()
            self.f = None


class Stream:
    """Records sent live to a host over the port's own TCP socket (not through ws2: no capture of itself)."""

    def __init__(self, to, snap=0):
        import socket

        ai = socket.getaddrinfo(to[0], to[1])[0]
        self.s = socket.socket(ai[0], socket.SOCK_STREAM)
        try:
            self.s.connect(ai[-1])
        except OSError:
            self.s.close()
            raise
        self.write(pcap.file_header(snap or pcap.SNAPLEN))

    def write(self, rec):
        """Send one record (blocking until the host took it)."""
        mv = memoryview(rec)
        while mv:
            mv = mv[self.s.send(mv) :]

    def flush(self):
        """Nothing is buffered here."""

    def close(self):
        """End the stream."""
        self.s.close()


def open_sink(cfg):
    """The sink cfg names: a Stream when it has 'to', else a Ring."""
    if cfg.get("to"):
        return Stream(cfg["to"], cfg.get("snap", 0))
    return Ring(cfg.get("file"), cfg.get("kb", _DEFAULT_KB), cfg.get("snap", 0))
