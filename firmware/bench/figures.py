# firmware/bench/figures: what the bench measures (figures, budgets, repetitions) and how the device
# scripts' results become figures and budget verdicts.
# MIT licence; part of ws2 for MicroPython.
import ast

from firmware.bench.stats import fmt, import_estimate32, measured, paired_spread, ratio, summarize, verdict

SCHEMA = "ws2-bench/1"

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
OWN_PASS = ("ram_import_rom",)  # measured by a pass of their own (see runner.run())
ORDER = ("ram", "alloc", "tcp", "udp", "events", "dns", "tls", "compat", "profile", "layers")  # ram first: a fresh board


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

# The 32-bit estimate of the import from .mpy files (64-bit port): what it costs beyond the ROMFS import is
# data copied from the file (bytecode, strings, constants), the same bytes on a 32-bit port; the ROMFS
# import is mostly objects made of words (dicts, functions, classes), which roughly halve.
IMPORT_FORMULA = "(fs - ROMFS) + ROMFS/2"


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
        f["missing"] = None if measured(w) else w["missing"]
        f["ratio"] = ratio(w, r) if f["kind"] in ("time", "rate") else None
        f["ratio_spread"] = paired_spread(w, r) if f["ratio"] is not None else None
        f["extra"] = (w["median"] - r["median"]) if f["kind"] == "bytes" and measured(w) and measured(r) else None
        f["scaled"] = None
        if f["kind"] == "bytes" and f["group"] in ("ram", "source") and measured(w) and scale != 1:
            f["scaled"] = {"ws2": w["median"] * scale, "extra": None if f["extra"] is None else f["extra"] * scale,
                           "how": "halved"}
    fs, rom = figures.get("ram_import"), figures.get("ram_import_rom")
    if fs and fs["scaled"]:
        if rom and measured(rom["ws2"]):
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
            value = f["ws2"]["median"] if measured(f["ws2"]) else None
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
