# Device-side helpers of `make soak`, put in front of every other board_scripts/soak_*.py.
# MIT licence; part of ws2 for MicroPython. Runs on MicroPython and CPython; the host prepends P = {...}.
#
# A result is one line "@S (row, what, tried, broke, notes)" that the host reads
# with ast.literal_eval: row is the row's id, tried how many times it was tried,
# broke how many of those broke (the target is 0), notes a list of short texts
# (the first failures, the counts by kind). "@H n" lines are heartbeats: the host
# interrupts a board that stays silent longer than its time limit.
import gc
import sys
import time

import ws2
from ws2 import handles, state
from ws2.port import sleep_ms
from ws2.port import ticks_diff as _diff
from ws2.port import ticks_ms as _ms

HOST = P["host"]
WORD = 8 if sys.maxsize > 0xFFFFFFFF else 4
MAX_NOTES = 8
MAX_FAILS = 200


def row(rid, what, tried, broke, notes=()):
    """Emit one result row."""
    print("@S " + repr((rid, what, tried, broke, list(notes)[:MAX_NOTES])))


_beat = [_ms()]
_count_lock = state.allocate_lock()


def beat(n=0):
    """A heartbeat at most every 500 ms: the host's silence limit measures single calls, not whole loops."""
    t = _ms()
    if _diff(t, _beat[0]) >= 500:
        _beat[0] = t
        print("@H %d" % n)


def why(e):
    """An exception as one short line."""
    try:
        s = str(e)
    except Exception:
        s = "?"
    return (type(e).__name__ + ": " + s)[:160]


class Tally:
    """Counts of tries and failures of one row, with the first few failures kept as notes."""

    def __init__(self, rid, what):
        self.rid = rid
        self.what = what
        self.tried = 0
        self.broke = 0
        self.notes = []
        self.kinds = {}

    def ok(self):
        with _count_lock:  # threads share tallies: += is not atomic between bytecodes
            self.tried += 1

    def fail(self, kind, text=""):
        with _count_lock:
            self.tried += 1
            self.broke += 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.notes) < MAX_NOTES - 1:
            self.notes.append(kind + (": " + text if text else ""))
        if self.broke <= MAX_FAILS:  # every failure (up to a bound) goes to the JSON report
            print("@F " + repr((self.rid, kind + (": " + text if text else ""))))

    def emit(self, extra=()):
        kinds = ["%s x%d" % (k, self.kinds[k]) for k in sorted(self.kinds)]
        row(self.rid, self.what, self.tried, self.broke, list(extra) + kinds + self.notes)


def open_handles():
    return [h for h in handles.live if h > 0]


def stop_all():
    """WSACleanup until ws2 is stopped (closes whatever is still open)."""
    while state.started:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break


def tcp(port=None):
    """A TCP socket connected to the host's echo server (or port)."""
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
    try:
        ws2.connect(s, (HOST, port or P["tcp_echo"]))
    except Exception:
        ws2.closesocket(s)
        raise
    return s


def recv_exact(s, n):
    """n bytes from s (fewer at end of stream)."""
    got = bytearray()
    while len(got) < n:
        b = ws2.recv(s, n - len(got))
        if not b:
            break
        got += b
    return bytes(got)


def echo_ok(tag=b"soak echo"):
    """A fresh TCP echo through ws2 works; returns None or why not."""
    try:
        s = tcp()
        try:
            ws2.send(s, tag)
            got = recv_exact(s, len(tag))
        finally:
            ws2.closesocket(s)
        return None if got == tag else "echo returned %r" % (got,)
    except Exception as e:
        return why(e)


def echo_check(t, what):
    """A fresh TCP echo must work: one try on tally t, failing as `what`."""
    bad = echo_ok()
    if bad:
        t.fail(what, bad)
    else:
        t.ok()


def heap():
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else 0


def snapshot_store():
    """The catalog, name-space catalog and settings as stored (restored by restore_store)."""
    from ws2 import store

    return [(n, store.load(n)) for n in ("catalog", "nscatalog", "settings")]


def restore_store(snap):
    from ws2 import catalog, nscatalog, settings, store

    for name, payload in snap:
        if payload is None:
            store.remove(name)
        else:
            store.save(name, payload)
    catalog.forget()
    nscatalog.forget()
    settings.forget()
