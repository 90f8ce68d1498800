# firmware/bench: `make bench`: what the router costs, measured against raw MicroPython sockets in the same run.
# MIT licence; part of ws2 for MicroPython.
#
# The host starts the board (virtual unless a port is given), deploys the
# bundle, starts the peers the board talks to (TCP echo, sink/source and
# listener, UDP echo and sink, DNS, TLS) and runs the device scripts
# firmware/scripts/bench_*.py one after the other, each after a soft reset.
# Every script measures the raw `socket` module and ws2 side by side, with
# their repetitions interleaved, and prints one "@R (kind, figure, side,
# value)" line per result. Here those become figures (median and spread of
# the repetitions, ratio ws2/raw), budget verdicts (docs/testing.md),
# build/bench/<BOARD>.json and a Markdown report. Nothing that cannot be
# measured stops the run: it is reported as "missing: reason".
import ast
import datetime
import json
import os
import platform
import socket
import ssl
import statistics
import struct
import sys
import threading
import time

from firmware import ROOT, boards

SCHEMA = "ws2-bench/1"
SCRIPTS = os.path.join(ROOT, "firmware", "scripts")
OUT_DIR = os.path.join(ROOT, "build", "bench")
TLS_NAME = "tls.ws2.test"
DNS_NAME = "a.ws2.test"

# id, device script, title, unit, kind. kind: "time" (lower is better, ratio = ws2/raw),
# "rate" (higher is better, ratio = ws2/raw), "bytes" (heap; ws2 - raw is the router's share),
# "count" (higher is better).
FIGURES = (
    ("tcp_rtt_64", "tcp", "TCP echo round trip, 64 B, TCP_NODELAY both ends", "µs", "time"),
    ("tcp_bulk_4k", "tcp", "TCP bulk send, 4 KB writes", "MB/s", "rate"),
    ("tcp_bulk_32k", "tcp", "TCP bulk send, 32 KB writes", "MB/s", "rate"),
    ("tcp_recv_4k", "tcp", "TCP bulk receive, 4 KB reads", "MB/s", "rate"),
    ("tcp_connect_close", "tcp", "connect + close to a host listener", "/s", "rate"),
    ("socket_close", "tcp", "socket() + closesocket(), TCP, no connect (raw: socket() + close())", "µs", "time"),
    ("udp_64", "udp", "UDP echo, 64 B datagrams, 8 in flight", "dgram/s", "rate"),
    ("udp_1400", "udp", "UDP echo, 1,400 B datagrams, 8 in flight", "dgram/s", "rate"),
    ("select_1", "events", "select, 1 socket, none ready (raw: select.poll built per call)", "µs", "time"),
    ("select_8", "events", "select, 8 sockets, none ready (raw: select.poll built per call)", "µs", "time"),
    ("select_32", "events", "select, 32 sockets, none ready (raw: select.poll built per call)", "µs", "time"),
    ("eventselect_wake", "events", "WSAEventSelect wake-up on a 64 B echo (raw: poll)", "µs", "time"),
    ("gai_numeric", "dns", "getaddrinfo, numeric host (raw: the port's getaddrinfo)", "µs", "time"),
    ("gai_port", "dns", "getaddrinfo, port resolver (ws2: nspm without a server)", "µs", "time"),
    ("gai_cold", "dns", "getaddrinfo, nspm cold: DNS query (raw: port resolver)", "µs", "time"),
    ("gai_warm", "dns", "getaddrinfo, nspm warm: cache (raw: port resolver)", "µs", "time"),
    ("tls_handshake", "tls", "TLS connect + handshake (raw: ssl, ws2: ssllsp)", "ms", "time"),
    ("tls_bulk", "tls", "TLS echo, 4 KB writes (raw: ssl, ws2: ssllsp)", "MB/s", "rate"),
    ("ram_import", "ram", "heap after import ws2 + wspm + nspm (.mpy files on the filesystem)", "B", "bytes"),
    ("ram_import_rom", "ram", "heap after import ws2 + wspm + nspm (ROMFS: in place, as frozen)", "B", "bytes"),
    ("ram_source_echo", "source", "heap after a TCP echo through ws2 installed as .py sources (smallest board's "
     "heap)", "B", "bytes"),
    ("ram_working_set", "ram", "heap after WSAStartup, a TCP exchange, getaddrinfo", "B", "bytes"),
    ("ram_per_socket", "ram", "heap per connected TCP socket", "B", "bytes"),
    ("ram_per_overlapped", "ram", "heap per pending overlapped WSARecv (router side)", "B", "bytes"),
    ("max_sockets", "ram", "UDP sockets open at once (table raised to 255)", "sockets", "count"),
    ("alloc_send", "alloc", "heap allocated per send, 64 B TCP", "B/call", "bytes"),
    ("alloc_recv", "alloc", "heap allocated per recv(64), TCP", "B/call", "bytes"),
    ("alloc_recv_into", "alloc", "heap allocated per recv_into 64 B (raw: readinto)", "B/call", "bytes"),
    ("alloc_sendto", "alloc", "heap allocated per sendto, 64 B UDP", "B/call", "bytes"),
    ("alloc_recvfrom", "alloc", "heap allocated per sendto + recvfrom pair, 64 B UDP", "B/call", "bytes"),
    ("layer_capture_idle", "layers", "64 B TCP round trip through the capture layer, not capturing "
                                     "(raw: a plain ws2 socket)", "µs", "time"),
    ("layer_capture_on", "layers", "64 B TCP round trip through the capture layer, capturing to the flash ring "
                                   "(raw: a plain ws2 socket)", "µs", "time"),
    ("layer_faults_idle", "layers", "64 B TCP round trip through the faults layer, no plan (raw: a plain ws2 socket)",
     "µs", "time"),
    ("layer_ram_capture", "layers", "heap after importing the capture layer (capture, pcap, capsink, layer)", "B",
     "bytes"),
    ("layer_ram_faults", "layers", "heap after importing the faults layer (faults, faultplan)", "B", "bytes"),
    ("flash_bundle", "flash", "bundle of all device modules (.mpy) for this board's arch", "B", "bytes"),
    ("compat_rtt_64", "compat", "drop-in socket (ws2.compat): 64 B echo round trip", "µs", "time"),
    ("compat_bulk_4k", "compat", "drop-in socket: bulk send, 4 KB writes", "MB/s", "rate"),
    ("compat_bulk_32k", "compat", "drop-in socket: bulk send, 32 KB writes", "MB/s", "rate"),
    ("compat_recv_4k", "compat", "drop-in socket: bulk receive, readinto 4 KB", "MB/s", "rate"),
    ("compat_udp_64", "compat", "drop-in socket: UDP echo, 64 B, 8 in flight", "dgram/s", "rate"),
    ("compat_udp_1400", "compat", "drop-in socket: UDP echo, 1,400 B, 8 in flight", "dgram/s", "rate"),
    ("compat_connect_close", "compat", "drop-in socket: connect + close", "/s", "rate"),
    ("compat_tls_bulk", "compat", "drop-in ssl (through ssllsp) vs the port's ssl: TLS echo, 4 KB writes", "MB/s",
     "rate"),
)
FIGURE_IDS = tuple(f[0] for f in FIGURES)
_OWN_PASS = ("ram_import_rom",)  # measured by a pass of their own (see run())
ORDER = ("ram", "alloc", "tcp", "udp", "events", "dns", "tls", "compat", "profile", "layers")  # ram first: a fresh board
ROMFS_ROOM_KB = 256  # heap added to a virtual board for the ROMFS image (the bundle is ~150 KB)

# The budgets (docs/testing.md): id, what, how compared, limit, unit
# import_ram_rom: how boards ship ws2 (frozen, boards/*/manifest.py; ROMFS runs .mpy in place alike);
# import_ram: the same modules as .mpy files on the filesystem (/lib).
BUDGETS = (
    ("import_ram_rom", "RAM after importing ws2 + wspm + nspm, frozen / ROMFS (as boards ship it)", "<=",
     8 * 1024, "B"),
    ("import_ram", "RAM after importing ws2 + wspm + nspm as .mpy files on the filesystem", "<=", 16 * 1024, "B"),
    ("socket_ram", "extra RAM per open socket beyond the raw socket", "<=", 128, "B"),
    ("source_echo", "a TCP echo through ws2 installed from .py sources fits the smallest board's heap", "<=",
     110 * 1024, "B"),
    ("bundle_tcp", ".mpy of router + wspm (the modules a TCP socket loads)", "<=", 40 * 1024, "B"),
    ("bundle", ".mpy of every device module", "<=", 110 * 1024, "B"),
    ("rtt_overhead", "router overhead on a 64-byte echo round trip vs raw socket", "<=", 5, "%"),
    ("bulk", "bulk throughput vs raw socket (worst of 4 KB and 32 KB writes)", ">=", 90, "%"),
    # ws2.compat: the drop-in against the port's own socket and ssl, the same client code on both sides.
    ("compat_rtt", "drop-in socket: 64 B round trip over raw, in %", "<=", 3, "%"),
    ("compat_bulk", "drop-in socket: bulk vs raw (worst of send 4 KB, 32 KB, receive)", ">=", 98, "%"),
    ("compat_cc", "drop-in socket: connect + close rate vs raw", ">=", 85, "%"),
    ("compat_tls", "drop-in ssl through ssllsp: TLS bulk vs the port's ssl", ">=", 95, "%"),
    # The Winsock API's own calls against their raw equivalents (ws2 / raw medians): the figure of the same id.
    ("socket_close", "socket() + closesocket() vs raw socket() + close()", "<=", 1.5, "×"),
    ("select_1", "select on 1 socket vs raw select.poll", "<=", 1.5, "×"),
    ("gai_numeric", "getaddrinfo of a numeric host vs the port's getaddrinfo", "<=", 1.5, "×"),
    ("gai_warm", "getaddrinfo of a name in nspm's cache vs the port resolver", "<=", 2, "×"),
)
_COMPAT_RATES = {"compat_bulk": ("compat_bulk_4k", "compat_bulk_32k", "compat_recv_4k"),
                 "compat_cc": ("compat_connect_close",), "compat_tls": ("compat_tls_bulk",)}

FULL = {"reps": 9, "rtt_n": 1000, "bulk_bytes": 4 << 20, "cc_n": 100, "udp_n": 800, "select_n": 400, "wake_n": 100,
        "dns_n": 20, "tls_n": 3, "tls_bytes": 256 << 10, "ram_socks": 8, "ram_ovs": 8, "alloc_calls": 10000,
        "prof_n": 10000}
QUICK = {"reps": 3, "rtt_n": 60, "bulk_bytes": 256 << 10, "cc_n": 20, "udp_n": 96, "select_n": 50, "wake_n": 20,
         "dns_n": 4, "tls_n": 1, "tls_bytes": 16 << 10, "ram_socks": 4, "ram_ovs": 4, "alloc_calls": 1000,
         "prof_n": 1000}


ROMFS_PATH = "/bench.romfs"  # on the board's filesystem, while the bench runs

# The 32-bit estimate of the import from .mpy files (64-bit port): what it costs beyond the ROMFS import is
# data copied from the file (bytecode, strings, constants), the same bytes on a 32-bit port; the ROMFS
# import is mostly objects made of words (dicts, functions, classes), which roughly halve.
IMPORT_FORMULA = "(fs - ROMFS) + ROMFS/2"


class BenchError(Exception):
    """The bench could not run at all (no board, no deploy); the CLI reports it as `firmware: message`."""


# -- statistics ------------------------------------------------------------------------

def summarize(samples):
    """Median and spread of one side's repetitions: n, median, min, max, q1, q3 and the samples in run order."""
    xs = [float(x) for x in samples]
    if not xs:
        raise ValueError("no samples")
    s = sorted(xs)
    q1, q3 = (statistics.quantiles(s, n=4, method="inclusive")[::2] if len(s) > 1 else (s[0], s[0]))
    return {"n": len(s), "median": statistics.median(s), "min": s[0], "max": s[-1], "q1": q1, "q3": q3,
            "samples": xs}


def ratio(ws2_side, raw_side):
    """ws2's median over raw's (None when either is missing or raw's is 0)."""
    if not _ok(ws2_side) or not _ok(raw_side) or not raw_side["median"]:
        return None
    return ws2_side["median"] / raw_side["median"]


def paired_spread(ws2_side, raw_side):
    """[min, max] of the per-repetition ratios (the repetitions are interleaved), or None."""
    if not _ok(ws2_side) or not _ok(raw_side):
        return None
    pairs = [w / r for w, r in zip(ws2_side["samples"], raw_side["samples"]) if r]
    return [min(pairs), max(pairs)] if pairs else None


def verdict(value, op, limit):
    """'met' or 'not met' for value op limit ('<=' or '>='); 'missing' when value is None."""
    if value is None:
        return "missing"
    return "met" if (value <= limit if op == "<=" else value >= limit) else "not met"


def import_estimate32(fs, rom, scale=0.5):
    """32-bit estimate of the import from .mpy files measured on a wider port: (fs - rom) + rom * scale.

    fs - rom is what the filesystem import copies from the .mpy (bytecode, strings, constants: the same bytes
    on a 32-bit port); rom, the import that runs in place, is mostly objects made of words.
    """
    return max(fs - rom, 0) + rom * scale


def _ok(side):
    return isinstance(side, dict) and "median" in side


# -- figures and budgets from device results -------------------------------------------------

def new_figures():
    """Every figure, empty: {id: figure}."""
    return {fid: {"id": fid, "title": title, "unit": unit, "kind": kind, "group": script,
                  "raw": None, "ws2": None, "notes": []}
            for fid, script, title, unit, kind in FIGURES}


def parse_lines(text, tag="@R ", size=4):
    """The "@R (...)" results in a script's output, as tuples (kind, figure, side, value); other tags and
    tuple sizes for other reports."""
    got = []
    for line in text.splitlines():
        if not line.startswith(tag):
            continue
        try:
            item = ast.literal_eval(line[len(tag):].strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(item, tuple) and len(item) == size:
            got.append(item)
    return got


def apply_results(figures, info, profile, results):
    """Fold parsed results into figures (and the info and profile dicts)."""
    for kind, fid, side, value in results:
        if kind == "info":
            info[fid] = value
        elif kind == "prof":
            profile.setdefault(fid, {})[side] = value
        elif fid not in figures:
            if kind in ("note", "miss"):
                info.setdefault("notes", []).append("%s: %s" % (fid, value))
        elif kind == "fig":
            try:
                figures[fid][side] = summarize(value)
            except (TypeError, ValueError) as e:
                figures[fid][side] = {"missing": "bad samples %r (%s)" % (value, e)}
        elif kind == "miss":
            figures[fid][side] = {"missing": str(value)}
        elif kind == "note":
            text = str(value) if side in (None, "ws2") else "%s: %s" % (side, value)
            if text not in figures[fid]["notes"]:
                figures[fid]["notes"].append(text)


def finish(figures, scale):
    """Fill ratio, spread and the figure-level missing reason; scale = 4 / the board's word size."""
    for f in figures.values():
        w, r = f["ws2"], f["raw"]
        if w is None:
            f["ws2"] = w = {"missing": "not reported by the board (script %s)" % f["group"]}
        f["missing"] = None if _ok(w) else w["missing"]
        f["ratio"] = ratio(w, r) if f["kind"] in ("time", "rate") else None
        f["ratio_spread"] = paired_spread(w, r) if f["ratio"] is not None else None
        f["extra"] = (w["median"] - r["median"]) if f["kind"] == "bytes" and _ok(w) and _ok(r) else None
        f["scaled"] = None
        if f["kind"] == "bytes" and f["group"] in ("ram", "source") and _ok(w) and scale != 1:
            f["scaled"] = {"ws2": w["median"] * scale, "extra": None if f["extra"] is None else f["extra"] * scale,
                           "how": "halved"}
    fs, rom = figures.get("ram_import"), figures.get("ram_import_rom")
    if fs and fs["scaled"]:
        if rom and _ok(rom["ws2"]):
            m, r = fs["ws2"]["median"], rom["ws2"]["median"]
            fs["scaled"].update(ws2=import_estimate32(m, r, scale), how=IMPORT_FORMULA)
            text = "32-bit estimate %s = (%s - %s) + %s x %g = %s B: the difference is copied from the .mpy " \
                "files (bytecode, strings, constants), the ROMFS import is mostly objects made of words" % (
                    IMPORT_FORMULA, fmt(m), fmt(r), fmt(r), scale, fmt(round(fs["scaled"]["ws2"])))
            if text not in fs["notes"]:
                fs["notes"].append(text)
        else:
            # No ROMFS figure: halving undercounts what the loader copies (bytecode and strings keep their
            # size), so the halved figure is only a lower bound and the measured one an upper bound.
            fs["scaled"]["how"] = "lower bound"
    return figures


def budgets(figures, flash):
    """The budgets with the measured value and verdict each."""
    def ram_value(fid, extra):
        f = figures[fid]
        if f["missing"]:
            return None, f["missing"]
        if extra and f["extra"] is None:
            return None, "raw side missing: %s" % ((f["raw"] or {}).get("missing"),)
        v = f["extra"] if extra else f["ws2"]["median"]
        if f["scaled"]:
            v = f["scaled"]["extra" if extra else "ws2"]
        return v, "32-bit equivalent of the measured %d B" % ((f["extra"] if extra else f["ws2"]["median"]),) \
            if f["scaled"] else None

    def import_fs(limit):
        # (value, note, verdict) of the import from .mpy files; see finish() for the estimate.
        f = figures["ram_import"]
        value, note = ram_value("ram_import", False)
        if value is None or not f["scaled"]:
            return value, note, verdict(value, "<=", limit)
        measured = f["ws2"]["median"]
        if f["scaled"]["how"] == IMPORT_FORMULA:
            rom = figures["ram_import_rom"]["ws2"]["median"]
            return value, "32-bit estimate %s = (%d - %d) + %d/2 of the measured %d B (fs) and %d B (ROMFS)" % (
                IMPORT_FORMULA, measured, rom, rom, measured, rom), verdict(value, "<=", limit)
        # Halving is a lower bound, the measured figure an upper one: a verdict only when both agree.
        v = "not met" if value > limit else "met" if measured <= limit else "undecided"
        return value, "lower bound (halved; bytecode and strings keep their size on 32-bit), upper bound the " \
            "measured %d B; no ROMFS figure to split them: %s" % (
                measured, figures["ram_import_rom"]["missing"]), v

    out = []
    for bid, what, op, limit, unit in BUDGETS:
        note = None
        v = None
        if bid == "import_ram_rom":
            value, note = ram_value("ram_import_rom", False)
            if value is not None:
                note = "%sthe ROMFS image is in memory before the import and not counted (it stands for flash); " \
                    "median of repeated imports, qstrs already interned (frozen firmware keeps them, and the " \
                    "raw-code tables a ROMFS import still allocates, in flash: it costs at most this; a ROMFS " \
                    "board's first import also interns qstrs, see the figure's by-step note)" % (
                        "%s (objects made of words: halved); " % note if note else "")
        elif bid == "import_ram":
            value, note, v = import_fs(limit)
        elif bid == "source_echo":
            f = figures["ram_source_echo"]
            value = f["ws2"]["median"] if _ok(f["ws2"]) else None
            note = f["missing"]
            if value is not None and f["scaled"]:
                value = f["scaled"]["ws2"]
                note = "32-bit equivalent (halved) of the measured %d B" % f["ws2"]["median"]
            if value is None and str(note).startswith("failed"):
                v = "not met"
        elif bid == "socket_ram":
            value, note = ram_value("ram_per_socket", True)
        elif bid in ("bundle", "bundle_tcp"):
            key = "tcp_bytes" if bid == "bundle_tcp" else "bytes"
            sizes = {b: e[key] for b, e in flash.items() if e.get(key) is not None}
            value = max(sizes.values()) if sizes else None
            note = ("largest of %s" % ", ".join("%s %d B" % kv for kv in sorted(sizes.items()))) if sizes else \
                "no bundle built"
        elif unit == "×":
            f = figures[bid]
            value = f["ratio"]
            note = None if value is not None else f["missing"] or "raw side missing"
        elif bid in ("rtt_overhead", "compat_rtt"):
            f = figures["tcp_rtt_64" if bid == "rtt_overhead" else "compat_rtt_64"]
            r = f["ratio"]
            value = None if r is None else (r - 1) * 100
            note = None if r is not None else f["missing"] or "raw side missing"
        else:
            rs = [figures[k]["ratio"] for k in _COMPAT_RATES.get(bid, ("tcp_bulk_4k", "tcp_bulk_32k"))]
            value = None if None in rs else min(rs) * 100
            note = None if value is not None else "a bulk figure is missing"
        out.append({"id": bid, "what": what, "op": op, "limit": limit, "unit": unit, "value": value,
                    "verdict": v or verdict(value, op, limit), "note": note})
    return out


# -- the report -------------------------------------------------------------------------------------

def fmt(x):
    """A number for the table: 3 significant digits, no exponent, thousands separated."""
    if x is None:
        return "-"
    if float(x).is_integer():
        return "{:,}".format(int(x))
    a = abs(x)
    if a >= 1000:
        return "{:,.0f}".format(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x


def _cell(side):
    if side is None:
        return "-"
    if not _ok(side):
        return "missing: %s" % side["missing"]
    if side["n"] == 1:
        return fmt(side["median"])
    return "%s (%s–%s)" % (fmt(side["median"]), fmt(side["min"]), fmt(side["max"]))


def _compare(f):
    if f["kind"] in ("time", "rate") and f["ratio"] is not None:
        r = f["ratio"]
        text = "×%.2f" % r
        if f["kind"] == "time":
            d = f["ws2"]["median"] - f["raw"]["median"]
            text += " (%+.0f %%, %s%s %s)" % ((r - 1) * 100, "+" if d >= 0 else "-", fmt(abs(d)), f["unit"])
        else:
            text += " (%.0f %% of raw)" % (r * 100)
        if f["ratio_spread"]:
            text += " [%.2f–%.2f]" % tuple(f["ratio_spread"])
        return text
    if f["kind"] == "bytes" and f["extra"] is not None:
        text = "%+d B" % round(f["extra"])
        if f["scaled"] and f["scaled"]["extra"] is not None:
            text += " (≈%+d B 32-bit)" % round(f["scaled"]["extra"])
        return text
    if f["scaled"]:
        if f["scaled"].get("how") == "lower bound":
            return "≥%d B 32-bit (lower bound)" % round(f["scaled"]["ws2"])
        return "≈%d B 32-bit" % round(f["scaled"]["ws2"])
    return "-"


def _esc(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report):
    """The report as Markdown: header, figures, budgets, flash per board, profile."""
    b = report["board"]
    lines = ["# ws2 bench: %s%s" % (b["name"], " (quick)" if report["quick"] else ""), ""]
    lines.append("%s, %s; %s; heap budget %d KB%s; %d repetitions per figure, raw and ws2 interleaved. "
                 "Cells: median (min–max); ratio = ws2 / raw (medians) [per-repetition range]; MB = 10^6 B." % (
                     ("emulated RP2040 (rp2040js) running %s" % report["emulated"]) if report.get("emulated")
                     else "virtual board (unix port)" if report["virtual"] else "board on %s" % report["port"],
                     report["info"].get("version", "MicroPython ?"), report["started"], b["heap_kb"],
                     (" (×%d on this %d-bit port: %d KB)" % (b["word"] // 4, b["word"] * 8,
                                                             b["heap_kb"] * b["word"] // 4)
                      if b["word"] != 4 else "") + (" + %d KB for the ROMFS image" % report["info"]["romfs_room_kb"]
                                                    if report["info"].get("romfs_room_kb") else ""), report["reps"]))
    code = report.get("code") or {}
    if code.get("commit"):
        lines.append("")
        lines.append("Code: commit %s%s." % (code["commit"], " with uncommitted changes to %s" % ", ".join(
            code["dirty"]) if code.get("dirty") else ""))
    if report.get("emulated"):
        lines += ["", "The emulated board runs MicroPython's own rp2 firmware on an emulated Cortex-M0+: the heap "
                  "figures are a real 32-bit heap's. It has no network: only the heap figures are measured, "
                  "sockets unconnected on both sides, pending overlapped requests on a providers.loopback "
                  "connection (docs/emulator.md)."]
    elif report["virtual"]:
        lines += ["", "On the virtual board a socket call is a host system call of a few microseconds, so the "
                  "router's Python is a far larger share of each call than over lwIP and Wi-Fi on a board: "
                  "ratios here are a worst case. Heap figures are measured with 64-bit words; the 32-bit "
                  "estimate (≈) halves them (objects are made of words), which undercounts bytecode and strings; "
                  "for the import from .mpy files it is %s instead: what that import costs beyond the ROMFS "
                  "import, which runs the bytecode in place, is data copied from the files (bytecode, strings, "
                  "constants: the same bytes on a 32-bit port); the ROMFS import is mostly objects made of "
                  "words." % IMPORT_FORMULA]
    lines += ["", "| figure | unit | raw socket | ws2 | ws2 vs raw | notes |", "|---|---|---|---|---|---|"]
    for fid in FIGURE_IDS:
        f = report["figures"][fid]
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            _esc(f["title"]), f["unit"], _esc(_cell(f["raw"])), _esc(_cell(f["ws2"])), _esc(_compare(f)),
            _esc("; ".join(f["notes"]))))
    lines += ["", "## Budgets (docs/testing.md)", "", "| budget | limit | measured | verdict | note |",
              "|---|---|---|---|---|"]
    for g in report["budgets"]:
        lim = "%s %s %s" % (g["op"], fmt(g["limit"]), g["unit"])
        val = "-" if g["value"] is None else "%s %s" % (fmt(g["value"]), g["unit"])
        lines.append("| %s | %s | %s | **%s** | %s |" % (_esc(g["what"]), lim, val, g["verdict"],
                                                          _esc(g["note"] or "")))
    lines += ["", "## Flash: bundle per board", "",
              "| board | arch | bundle (.mpy) | at mpy-cross -O3 | budget | verdict |", "|---|---|---|---|---|---|"]
    for name, e in sorted(report["flash"].items()):
        if e.get("bytes") is None:
            lines.append("| %s | %s | missing: %s | - | %d KB | missing |" % (
                name, e.get("arch", "?"), _esc(e.get("missing")), e["budget"] // 1024))
        else:
            o3 = e.get("bytes_O3")
            lines.append("| %s | %s | %s B | %s | %d KB | %s |" % (
                name, e["arch"], fmt(e["bytes"]), "%s B" % fmt(o3) if o3 else "-", e["budget"] // 1024,
                verdict(e["bytes"], "<=", e["budget"])))
    big = next((e["largest"] for _, e in sorted(report["flash"].items()) if e.get("largest")), None)
    if big:
        lines += ["", "Largest modules: " + ", ".join("%s %s B" % (n, fmt(k)) for n, k in big) + "."]
    if report.get("profile"):
        lines += ["", "## Profile: cost per call of each layer (median of the repetitions)", "",
                  "| path | layer | µs/call | B allocated/call |", "|---|---|---|---|"]
        for op in sorted(report["profile"]):
            for layer, v in report["profile"][op].items():
                if isinstance(v, dict) and "us" in v:
                    lines.append("| %s | %s | %s | %s |" % (op, _esc(layer), fmt(v["us"]), fmt(v.get("alloc"))))
                else:
                    lines.append("| %s | %s | missing: %s | - |" % (op, _esc(layer), _esc(v)))
    lines.append("")
    return "\n".join(lines)


def chart(report, path):
    """A PNG of the ws2/raw ratios, if matplotlib is installed; returns the path or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figs = [f for f in report["figures"].values() if f["ratio"] is not None]
    if not figs:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(figs) + 1.5))
    ax.barh([f["title"] for f in figs], [f["ratio"] for f in figs])
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("ws2 / raw socket (time: lower is better; rate: higher is better)")
    ax.set_title("ws2 bench, %s" % report["board"]["name"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- ROMFS ------------------------------------------------------------------------------------------

def romfs_image(files):
    """A ROMFS image, built with mpremote's romfs builder, of the bundle's /lib files [(board path, bytes)]:
    its root holds ws2/ and providers/, so mounted at /rom, "/rom" on sys.path imports them."""
    import contextlib
    import io
    import shutil
    import tempfile

    from mpremote.romfs import make_romfs

    tmp = tempfile.mkdtemp(prefix="ws2-romfs-")
    try:
        n = 0
        for path, data in files:
            if not path.startswith("/lib/"):
                continue
            dst = os.path.join(tmp, *path[len("/lib/"):].split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)
            n += 1
        if not n:
            raise ValueError("no /lib files in the bundle")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                return make_romfs(tmp, mpy_cross=False)  # .mpy only: nothing to compile
            except SystemExit:
                raise OSError("mpremote's romfs builder failed: %s" % err.getvalue().strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def deployed_files(board, flash_dir=None):
    """The bundle deploy put on the board, [(board path, bytes)]: read back from a virtual board's flash
    (flash_dir: what it runs, whatever arch it was compiled for), else compiled again for the board."""
    if not flash_dir:
        from firmware.deploy import snapshot

        return snapshot(board)
    from firmware import bundle

    got = []
    lib = os.path.join(flash_dir, "lib")
    for pkg in bundle.PACKAGES:
        for top, dirs, names in os.walk(os.path.join(lib, pkg)):
            dirs.sort()
            for n in sorted(names):
                if n.endswith((".mpy", ".py")):
                    local = os.path.join(top, n)
                    with open(local, "rb") as f:
                        got.append(("/lib/" + os.path.relpath(local, lib).replace(os.sep, "/"), f.read()))
    return got


def put_romfs(dev, files, flash_dir=None):
    """Put a ROMFS image of the bundle (files: [(board path, bytes)], or a function returning them) on the
    board at ROMFS_PATH (a virtual board's flash is flash_dir); return the device scripts' params:
    {"romfs": {"path", "size"} or None, "romfs_missing": why or None}."""
    try:
        img = romfs_image(files() if callable(files) else files)
    except Exception as e:
        return {"romfs": None, "romfs_missing": "no ROMFS image (%s: %s)" % (type(e).__name__, e)}
    try:
        has, free = dev.eval("(hasattr(__import__('vfs'), 'VfsRom'), __import__('gc').mem_free())")
    except Exception as e:
        return {"romfs": None, "romfs_missing": "cannot ask the board for vfs.VfsRom (%s: %s)" % (
            type(e).__name__, str(e).splitlines()[-1] if str(e) else "")}
    if not has:
        return {"romfs": None, "romfs_missing": "this MicroPython has no vfs.VfsRom (ROMFS: MicroPython >= 1.25 "
                "built with MICROPY_VFS_ROM)"}
    if free < len(img) + 16 * 1024:
        return {"romfs": None, "romfs_missing": "the ROMFS image (%d B) does not fit in the heap (%d B free) with "
                "the imports: measure a board with ws2 frozen or in its ROMFS partition instead" % (len(img), free)}
    try:
        if flash_dir:
            with open(os.path.join(flash_dir, ROMFS_PATH.lstrip("/")), "wb") as f:
                f.write(img)
        else:
            dev.write_file(ROMFS_PATH, img)
    except Exception as e:
        return {"romfs": None, "romfs_missing": "cannot copy the ROMFS image to the board (%s: %s)" % (
            type(e).__name__, e)}
    return {"romfs": {"path": ROMFS_PATH, "size": len(img)}, "romfs_missing": None}


def drop_romfs(dev):
    """Remove the image put_romfs copied (a real board's flash is not the bench's to fill)."""
    try:
        dev.exec("import os\ntry:\n    os.remove(%r)\nexcept OSError:\n    pass" % ROMFS_PATH)
    except Exception:
        pass


# -- flash ------------------------------------------------------------------------------------------

def flash_sizes(out_dir, o3=False):
    """Bundle size of every board under boards/ (one build per arch): {board: {arch, bytes | missing, budget,
    largest (the ten biggest modules), bytes_O3 (when o3 and bundle.build takes opt)}}."""
    from concurrent.futures import ThreadPoolExecutor

    from firmware import bundle

    by_arch = {}
    result = {}
    for name in boards.names():
        try:
            b = boards.load(name)
        except Exception as e:
            result[name] = {"arch": "?", "missing": str(e), "budget": 110 * 1024}
            continue
        result[name] = {"arch": b["mpy_arch"], "budget": b.get("flash_budget_kb", 110) * 1024}
        by_arch.setdefault(b["mpy_arch"], name)

    def build(arch):
        got = {}
        try:
            built = bundle.build(by_arch[arch], out_dir=os.path.join(out_dir, arch))
            got["bytes"] = sum(n for _, n in built)
            got["tcp_bytes"] = bundle.budgets(by_arch[arch], built)[0][1]
            got["largest"] = sorted(built, key=lambda m: -m[1])[:10]
        except Exception as e:
            return arch, {"missing": str(e)}
        if o3:
            try:
                built = bundle.build(by_arch[arch], out_dir=os.path.join(out_dir, arch + "-O3"), opt=3)
                got["bytes_O3"] = sum(n for _, n in built)
            except Exception:
                pass  # an older bundle.build without opt=: the -O3 figure is only informative
        return arch, got

    with ThreadPoolExecutor(max_workers=max(1, min(len(by_arch), os.cpu_count() or 1))) as pool:
        built = dict(pool.map(build, sorted(by_arch)))
    for name, e in result.items():
        if "missing" not in e:
            e.update(built[e["arch"]])
    return result


# -- host peers ------------------------------------------------------------------------------------

class _Listener:
    """A TCP listener on host_ip: handler(conn) in a thread per connection, or accept-and-close when None."""

    def __init__(self, host_ip, handler=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host_ip, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.handler is None:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.handler(conn)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


_ZEROS = memoryview(bytes(1 << 16))


def sink_source(conn):
    """The bulk peer: header (op, 32-bit length); S: swallow length bytes, answer K; R: send length bytes;
    D: swallow until the board closes."""
    buf = bytearray(1 << 18)
    while True:
        hdr = _recv_exact(conn, 5)
        if hdr is None:
            return
        op, n = hdr[0], int.from_bytes(hdr[1:], "big")
        if op == ord("S"):
            while n > 0:
                k = conn.recv_into(buf, min(n, len(buf)))
                if not k:
                    return
                n -= k
            conn.sendall(b"K")
        elif op == ord("R"):
            while n > 0:
                k = min(n, len(_ZEROS))
                conn.sendall(_ZEROS[:k])
                n -= k
        elif op == ord("D"):
            while conn.recv_into(buf):
                pass
            return
        else:
            return


class _TlsEcho:
    """A TLS echo server under a fresh test CA (trustme): port, name, ca_pem, ca_der."""

    def __init__(self, host_ip):
        import trustme

        ca = trustme.CA()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(TLS_NAME).configure_cert(ctx)
        self.ctx = ctx
        self.ca_pem = ca.cert_pem.bytes().decode()
        self.ca_der = ssl.PEM_cert_to_DER_cert(self.ca_pem)
        self.listener = _Listener(host_ip, self._serve)
        self.port = self.listener.port

    def _serve(self, conn):
        conn.settimeout(60)
        s = self.ctx.wrap_socket(conn, server_side=True)
        while True:
            data = s.recv(65536)
            if not data:
                return
            s.sendall(data)

    def close(self):
        self.listener.close()


def echo_main(host_ip):
    """The TCP echo peer (TCP_NODELAY), the connect+close listener, the UDP echo and the UDP sink, run in a
    process of their own: prints their four ports, then serves until the bench is gone.

    Its own process, so no thread of the bench (GIL) delays an answer or an
    accept, and pinned with the other peers: unpinned, where the scheduler
    puts the peer and the board decides the round trip more than the router
    does. It always sleeps until data comes: if it answered faster than the
    board can get into its blocking recv, the side that does more work
    between send and recv (ws2) would skip the recv's wake-up and look faster
    than raw.
    """
    import select

    parent = os.getppid()
    lsocks = []
    for _ in range(2):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host_ip, 0))
        ls.listen(128)
        lsocks.append(ls)
    echo_l, closer = lsocks
    udp = []
    for _ in range(2):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        u.bind((host_ip, 0))
        udp.append(u)
    udp_echo, udp_sink = udp
    print(echo_l.getsockname()[1], closer.getsockname()[1], udp_echo.getsockname()[1], udp_sink.getsockname()[1],
          flush=True)
    conns = []
    buf = bytearray(1 << 16)
    mv = memoryview(buf)
    while os.getppid() == parent:
        ready, _, _ = select.select(lsocks + udp + conns, [], [], 0.5)
        for s in ready:
            if s is udp_echo or s is udp_sink:
                try:
                    n, addr = s.recvfrom_into(buf)
                    if s is udp_echo:
                        s.sendto(mv[:n], addr)
                except OSError:
                    pass
                continue
            if s is closer:
                s.accept()[0].close()
                continue
            if s is echo_l:
                c, _ = s.accept()
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns.append(c)
                continue
            try:
                n = s.recv_into(buf)
                if n:
                    s.sendall(mv[:n])
            except OSError:
                n = 0
            if not n:
                conns.remove(s)
                s.close()


def sink_main(host_ip):
    """The bulk peer (sink_source), in a process of its own: prints its port, serves until the bench is gone."""
    lst = _Listener(host_ip, sink_source)
    print(lst.port, flush=True)
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)


class _PeerProcess:
    """firmware.bench.<main>(host_ip) in a child process that dies with this one: .ports, .stop()."""

    def __init__(self, main, host_ip, cpus=None):
        import subprocess

        code = "import sys; from firmware.bench import %s; %s(sys.argv[1])" % (main, main)
        self.proc = subprocess.Popen([sys.executable, "-c", code, host_ip], cwd=ROOT, stdout=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        words = self.proc.stdout.readline().split()
        if not words or not all(w.isdigit() for w in words):
            self.stop()
            raise OSError("the %s peer did not start" % main)
        self.ports = [int(w) for w in words]
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, cpus)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def _die_with_parent():
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Peers:
    """Every host peer of the bench; optional ones (DNS, TLS) record why they are missing."""

    def __init__(self, host_ip, cpus=None):
        self.host_ip = host_ip
        self.closing = []
        echo = _PeerProcess("echo_main", host_ip, cpus)  # TCP echo with TCP_NODELAY, and the listener
        self.closing.append(echo.stop)
        self.echo_port, self.listener_port, self.udp_echo_port, self.udp_sink_port = echo.ports
        sink = _PeerProcess("sink_main", host_ip, cpus)  # bulk sink and source
        self.closing.append(sink.stop)
        self.sink_port = sink.ports[0]
        self.dns = self.dns_missing = None
        try:
            if ROOT not in sys.path:
                sys.path.insert(0, ROOT)
            from host_tests.dns_fixtures import Server

            bind = host_ip if host_ip in ("127.0.0.1", "localhost") else "0.0.0.0"
            self.dns = Server("ok", bind)
            self.closing.append(self.dns.stop)
        except Exception as e:
            self.dns_missing = "no DNS test server (host_tests/dns_fixtures.py: %s: %s)" % (type(e).__name__, e)
        self.tls = self.tls_missing = None
        try:
            self.tls = _TlsEcho(host_ip)
            self.closing.append(self.tls.close)
        except Exception as e:
            self.tls_missing = "no TLS test server (%s: %s)" % (type(e).__name__, e)

    def params(self):
        """What the device scripts need to reach the peers."""
        p = {"host": self.host_ip, "echo": self.echo_port, "sink": self.sink_port, "listener": self.listener_port,
             "udp_echo": self.udp_echo_port, "udp_sink": self.udp_sink_port,
             "dns": [self.host_ip, self.dns.port] if self.dns else None, "dns_missing": self.dns_missing,
             "dns_name": DNS_NAME, "tls": None, "tls_missing": self.tls_missing}
        if self.tls:
            p["tls"] = {"port": self.tls.port, "name": TLS_NAME, "ca_pem": self.tls.ca_pem, "ca_der": self.tls.ca_der}
        return p

    def close(self):
        for c in reversed(self.closing):
            try:
                c()
            except Exception:
                pass


# -- running the device scripts ---------------------------------------------------------------------

def script_code(name, params, kind="bench"):
    """The code sent to the board for bench_<name>.py: P, then bench_lib.py, then the script (kind "soak":
    soak_<name>.py after soak_lib.py)."""
    with open(os.path.join(SCRIPTS, kind + "_lib.py")) as f:
        lib = f.read()
    with open(os.path.join(SCRIPTS, "%s_%s.py" % (kind, name))) as f:
        body = f.read()
    return "P = %r\n%s\n%s" % (params, lib, body)


def run_script(board, name, params, timeout, after_reset=None):
    """Soft-reset, run one script; return (output, error text or None). Never raises for a board failure."""
    from mpremote.transport import TransportError

    try:
        board.soft_reset()
        if after_reset:
            after_reset()
        board.t.exec_raw_no_follow(script_code(name, params))
        out, err = board.t.follow(timeout)
    except TransportError as e:
        try:
            board.recover()
        except Exception:
            pass
        return "", "the board went silent for %ss (%s); it was interrupted" % (timeout, e)
    except Exception as e:
        return "", "%s: %s" % (type(e).__name__, e)
    out = out.decode(errors="replace").replace("\r\n", "\n")
    err = err.decode(errors="replace").strip()
    return out, (err.splitlines()[-1] if err else None)


def _pin(vb):
    """On a host with 2+ CPUs: the interpreter gets the last CPU to itself, this process's threads and the
    peers the others. Unpinned, the scheduler moves them about between repetitions, and a round trip's
    cost doubles or halves with where each side happens to run. Returns (host CPUs, board CPUs) or None."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None
    host, dev = set(cpus[:-1]), {cpus[-1]}
    os.sched_setaffinity(0, host)  # this thread; the peers' threads start later and inherit it
    _repin(vb, dev)
    return host, dev


def _repin(vb, cpus):
    # A soft reset starts a new interpreter process (from the board's relay thread): pin each one.
    proc = getattr(vb, "_proc", None)
    if proc is not None and cpus:
        try:
            os.sched_setaffinity(proc.pid, cpus)
        except OSError:
            pass


def _port_name(virtual, host_ip):
    # A name the port's resolver answers without the network: the host's own name
    # on the virtual board (/etc/hosts), "localhost" on a real one.
    if not virtual:
        return "localhost"
    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, 80)
        return name
    except OSError:
        return "localhost"


def run(board="UNIX", port=None, host_ip=None, quick=False, reps=None, only=None, out=print, micropython=None,
        out_dir=None):
    """Run the bench (only: a subset of ORDER); write <out_dir or build/bench>/<BOARD>.json, .md, .png;
    return the report."""
    from firmware.deploy import deploy
    from firmware.device import Board

    info_board = boards.load(board)
    host_ip = host_ip or "127.0.0.1"
    params = dict(QUICK if quick else FULL)
    if reps:
        params["reps"] = reps
    params["quick"] = quick
    started = time.time()
    figures = new_figures()
    info = {}
    profile = {}
    os.makedirs(OUT_DIR, exist_ok=True)

    if only and "flash" not in only:
        flash = {}
    else:
        out("flash: building the bundle for every board arch ...")
        flash = flash_sizes(os.path.join(OUT_DIR, "flash"), o3=not quick)
    mine = flash.get(board, {})
    if mine.get("bytes") is not None:
        figures["flash_bundle"]["ws2"] = summarize([mine["bytes"]])
    else:
        figures["flash_bundle"]["ws2"] = {"missing": mine.get("missing", "not built")}
    figures["flash_bundle"]["notes"].append("%s, mpy-cross -march=%s" % (board, info_board["mpy_arch"]))

    vb = None
    pinned = None
    offline = None
    if port is None:
        from firmware import emuboard
        from firmware.vboard import open_board

        # Room for the ROMFS image on top of a virtual board's heap: the image stands for flash, which a
        # board does not take from its heap (every heap figure is allocated bytes, not what is left).
        # An emulated board has its firmware's own heap.
        kw = {}
        if not emuboard.is_emulated(info_board) and (not only or "ram" in only):
            kw["heap"] = "%dK" % (int(boards.heap_words(info_board)[:-1]) + ROMFS_ROOM_KB)
            info["romfs_room_kb"] = ROMFS_ROOM_KB
        vb = open_board(board, micropython=micropython, **kw)
        port = vb.start()
        if emuboard.is_emulated(info_board):
            # The real firmware's 32-bit heap, but no network: only the heap figures are measured.
            offline = "the emulated %s has no network" % board
            only = [p for p in (only or ORDER + ("flash",)) if p in ("ram", "flash")]
            params["offline"] = offline
            out("emulated %s board on %s (%s, rp2040js): heap figures only, no network" % (
                board, port, os.path.basename(vb.image)))
        else:
            pinned = _pin(vb)
            out("virtual %s board on %s%s" % (board, port, "; CPUs %s for the host, %s for the board" % (
                sorted(pinned[0]), sorted(pinned[1])) if pinned else ""))
    peers = None
    dev = None
    put = False
    try:
        try:
            dev = Board(port)
            deploy(dev, board, log=lambda m: None)
        except Exception as e:
            raise BenchError("cannot deploy to the board on %s: %s" % (port, e))
        peers = Peers(host_ip, pinned[0] if pinned else None)
        params.update(peers.params())
        if not only or "ram" in only:
            # The ROMFS import figure: an image of the same bundle, mounted by bench_ram.py.
            flash_dir = vb.flash if vb is not None and os.path.isdir(vb.flash) else None
            romfs = put_romfs(dev, lambda: deployed_files(board, flash_dir), flash_dir)
            params.update(romfs)
            put = romfs["romfs"] is not None
        params["port_name"] = _port_name(vb is not None, host_ip)
        if vb is None and not quick:
            # Over Wi-Fi a megabyte takes about a second: keep a full run on a real board to minutes.
            params["bulk_bytes"] = min(params["bulk_bytes"], 1 << 20)
            params["prof_n"] = min(params["prof_n"], 2000)
        timeout = 60 if quick else 300
        passes = []
        for name in ORDER:
            if only and name not in only:
                continue
            if name == "ram":
                # The ROMFS import in a pass of its own: a fresh heap for the image, none taken from the others.
                passes.append((name, dict(params, ram_pass="romfs"), _OWN_PASS, " (ROMFS import)"))
            passes.append((name, params, None, ""))
        for name, p, fids, label in passes:
            t0 = time.time()
            text, err = run_script(dev, name, p, timeout, (lambda: _repin(vb, pinned[1])) if pinned else None)
            results = parse_lines(text)
            if fids:
                results = [r for r in results if r[0] not in ("info", "prof")]
            apply_results(figures, info, profile, results)
            if err:
                for f in figures.values():
                    if (f["id"] in fids) if fids else (f["group"] == name and f["id"] not in _OWN_PASS):
                        for side in ("raw", "ws2"):
                            if f[side] is None:
                                f[side] = {"missing": "bench_%s.py%s stopped: %s" % (name, label, err)}
                if name == "profile":
                    profile["error"] = {"script": err}
            out("  bench_%s.py%s: %d results in %.1f s%s" % (name, label, len(results), time.time() - t0,
                                                             "; stopped: " + err if err else ""))
    finally:
        if dev is not None:
            if put and vb is None:
                drop_romfs(dev)
            try:
                dev.close()
            except Exception:
                pass
        if peers is not None:
            peers.close()
        if vb is not None:
            vb.stop()

    if vb is not None and (not only or "ram" in only):
        out("source install: a TCP echo from .py sources on a fresh virtual board with the smallest heap ...")
        figures["ram_source_echo"]["ws2"] = source_echo(micropython)
    elif figures["ram_source_echo"]["ws2"] is None:
        figures["ram_source_echo"]["ws2"] = {"missing": "measured on the virtual board only"}
    word = int(info.get("word") or (struct.calcsize("P") if vb is not None else 4))
    report = assemble(info_board, figures, info, profile, flash, params, word=word, virtual=vb is not None,
                      port=port, only=only, started=started)
    if offline:
        report["emulated"] = os.path.basename(vb.image)
    write(report, out, out_dir)
    return report


# One TCP echo through ws2; prints "@ECHO ok heap [modules loaded while the socket was open]".
ECHO_SCRIPT = """
import gc, sys, ws2
ws2.WSAStartup(0x0202)
s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
ws2.connect(s, ('127.0.0.1', %d))
ws2.send(s, b'source echo')
got = b''
while len(got) < 11:
    got += ws2.recv(s, 11 - len(got))
loaded = sorted(k for k in sys.modules if k.startswith(('ws2', 'providers')))
ws2.closesocket(s)
ws2.WSACleanup()
gc.collect()
print('@ECHO', got == b'source echo', gc.mem_alloc(), repr(loaded).replace(' ', ''))
"""


def echo_result(out):
    """(echo came back intact, heap after it, modules loaded) from ECHO_SCRIPT's output."""
    line = [x for x in out.splitlines() if x.startswith("@ECHO")][-1].split()
    return line[1] == "True", int(line[2]), ast.literal_eval(line[3])


def source_echo(micropython=None):
    """{"median": heap after the echo} or {"missing": "failed: ..."}: ws2 and providers as .py files in /lib of
    a fresh virtual board with the smallest board's heap, one TCP echo through ws2."""
    import shutil

    from firmware.device import Board
    from firmware.peers import EchoServer
    from firmware.vboard import VirtualBoard

    smallest = min(boards.names(), key=lambda n: boards.load(n)["heap_kb"])
    echo = EchoServer("127.0.0.1")
    echo.start()
    vb = VirtualBoard(smallest, micropython=micropython)
    dev = None
    try:
        vb.start()
        for pkg in ("ws2", "providers"):
            shutil.copytree(os.path.join(ROOT, pkg), os.path.join(vb.flash, "lib", pkg),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        dev = Board(vb.device)
        ok, heap, _ = echo_result(dev.exec(ECHO_SCRIPT % echo.port, timeout=120))
        if not ok:
            return {"missing": "failed: the echo came back wrong"}
        return summarize([heap])
    except Exception as e:
        return {"missing": "failed on %s's heap (%d KB): %s" % (smallest, boards.load(smallest)["heap_kb"],
                                                               str(e).strip().splitlines()[-1][:200])}
    finally:
        if dev is not None:
            dev.close()
        vb.stop()
        echo.stop()


def assemble(board_info, figures, info, profile, flash, params, word=4, virtual=True, port=None, only=None,
             started=None):
    """The report dict (schema ws2-bench/1) from the collected results; figures are finished here."""
    started = started or time.time()
    finish(figures, 4 / word)
    report = {
        "schema": SCHEMA,
        "board": {"name": board_info["name"], "arch": board_info["mpy_arch"], "heap_kb": board_info["heap_kb"],
                  "max_sockets": board_info["max_sockets"], "word": word},
        "virtual": virtual,
        "port": None if virtual else port,
        "quick": bool(params.get("quick")),
        "only": sorted(only) if only else None,
        "reps": params.get("reps"),
        "params": {k: v for k, v in params.items() if k != "tls"},
        "started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "code": code_version(),
        "info": info,
        "figures": figures,
        "budgets": budgets(figures, flash),
        "flash": flash,
        "profile": _profile_summary(profile),
    }
    return report


def code_version():
    """The commit measured and the device files that differ from it (numbers belong to a version of the code)."""
    import subprocess

    def git(*args):
        try:
            r = subprocess.run(["git"] + list(args), cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return None
        return r.stdout.rstrip("\n") if r.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "ws2", "providers")
    return {"commit": commit, "dirty": sorted(line[3:] for line in dirty.splitlines()) if dirty else []}


def _profile_summary(profile):
    """Profile samples -> medians: {path: {layer: {"us": .., "alloc": ..} or missing text}}."""
    done = {}
    for op, layers in profile.items():
        done[op] = {}
        for layer, v in layers.items():
            if isinstance(v, dict) and "us" in v:
                us = v["us"] if isinstance(v["us"], (int, float)) else statistics.median(v["us"])
                al = v.get("alloc")
                done[op][layer] = {"us": us, "alloc": al}
            else:
                done[op][layer] = str(v)
    return done


def write(report, out=print, out_dir=None):
    """Write build/bench/<BOARD>.json, .md and (matplotlib permitting) .png; print the Markdown.

    A partial run (--only) writes <BOARD>.partial.* so it never replaces a whole report.
    """
    out_dir = out_dir or OUT_DIR
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, report["board"]["name"] + (".partial" if report.get("only") else ""))
    tmp = base + ".json.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    os.replace(tmp, base + ".json")
    text = markdown(report)
    with open(base + ".md", "w") as f:
        f.write(text)
    png = chart(report, base + ".png")
    out("")
    out(text)
    report["files"] = [base + ".json", base + ".md"] + ([png] if png else [])
    out("written: %s (%.1f s)" % (", ".join(os.path.relpath(f, ROOT) for f in report["files"]), report["duration_s"]))
