# firmware/soak: `make soak`: reliability in figures - hostile input, long runs, power cuts, hostile peers,
# threads, exhaustion - on the virtual board (or a real one), into build/soak/<BOARD>.md and .json.
# MIT licence; part of ws2 for MicroPython.
#
# Every section is a list of rows: what was tried, how many times, how many of
# those broke (the target of every "broke" is 0) and notes (the first failures,
# counts by kind). Board-side parts are board_scripts/soak_*.py, run after
# soak_lib.py with the parameters P prepended, each after a soft reset; they
# print "@S (row, what, tried, broke, notes)" lines. A board silent for longer
# than the call limit is interrupted with Ctrl-C (the scripts count that as a
# timeout and go on). Host-side parts (power cuts, interrupted deploys, the DNS
# codec fuzz) run here. Nothing that fails stops the run: it becomes a row that
# broke, so the report always has every section.
import json
import os
import random
import socket
import sys
import time

from firmware import ROOT, FirmwareError, boards

SCHEMA = "ws2-soak/1"
OUT_DIR = os.path.join(ROOT, "build", "soak")
HEAP_BOARD = "ESP32_GENERIC"  # the virtual board runs at this board's heap budget (the smallest Wi-Fi board's)

SECTIONS = (
    ("badinput", "1. Bad input, generated"),
    ("long", "2. Long runs at the ESP32 heap budget"),
    ("power", "3. Power cuts"),
    ("dns", "4. Hostile DNS"),
    ("tls", "5. Hostile TLS peers"),
    ("threads", "6. Threads"),
    ("exhaust", "7. Exhaustion"),
)
SECTION_IDS = tuple(s[0] for s in SECTIONS)

FULL = {"arity": 5, "call_limit_ms": 5000, "big": 65536, "create_close": 10000, "tcp_conns": 2000,
        "tcp_bytes": 4096, "udp_dgrams": 10000, "io_rounds": 1000, "kills": 1000, "deploy_kills": 100,
        "dns_fuzz": 1000000, "dns_rounds": 20, "tls_rounds": 3, "thread_n": 1000, "threads": 4,
        "mem_rounds": 3}
QUICK = {"arity": 3, "call_limit_ms": 5000, "big": 65536, "create_close": 500, "tcp_conns": 40, "tcp_bytes": 4096,
         "udp_dgrams": 300, "io_rounds": 40, "kills": 10, "deploy_kills": 2, "dns_fuzz": 20000, "dns_rounds": 2,
         "tls_rounds": 1, "thread_n": 40, "threads": 4, "mem_rounds": 1}
# QUICK's hostile values: one of each kind (the full run uses every value of the table).
QUICK_VALUES = ("None", "True", "-1", "2**100", "3.5", "str*300", "'1.2.3.4'", "huge bytes", "readonly memoryview",
                "int32 memoryview", "(host, 70000)", "(999.1.1.1, 80)", "[None]", "object()", "closed handle",
                "event object", "handle from before WSACleanup", "UDP handle")


class SoakError(FirmwareError):
    """The soak could not run at all (no board, no deploy); the CLI reports it as `firmware: message`."""


# -- rows and sections -------------------------------------------------------------------------------

def new_row(rid, what, tried=0, broke=0, notes=None):
    """One result row."""
    return {"id": rid, "what": what, "tried": int(tried), "broke": int(broke), "notes": list(notes or [])}


def parse_rows(text):
    """The "@S (...)" rows in a script's output, each with the "@F" failures the board listed for it."""
    from firmware.bench import parse_lines

    fails = {}
    for rid, what in parse_lines(text, "@F ", 2):
        fails.setdefault(rid, []).append(what)
    rows = [new_row(*item) for item in parse_lines(text, "@S ", 5)]
    for r in rows:
        if r["id"] in fails:
            r["failures"] = fails[r["id"]]
    return rows


def totals(sections):
    """(tried, broke) over every row of every section."""
    tried = broke = 0
    for s in sections:
        for r in s["rows"]:
            tried += r["tried"]
            broke += r["broke"]
    return tried, broke


# -- running device scripts ----------------------------------------------------------------------------

def script_code(name, params):
    """The code sent to the board for soak_<name>.py: P, then soak_lib.py, then the script."""
    from firmware.bench import script_code as code

    return code(name, params, "soak")


def stream(dev, code, limit, on_line=None):
    """Run code on the board and collect its output; a board silent for `limit` s gets one Ctrl-C, then
    is soft-reset. Returns (stdout, error text or None)."""
    from mpremote.transport import TransportError

    t = dev.t
    try:
        t.exec_raw_no_follow(code)
    except TransportError as e:
        return "", "the board did not take the script (%s)" % e
    buf = bytearray()
    text = []
    last = time.monotonic()
    interrupted = False
    ends = []
    line = bytearray()
    while len(ends) < 2:
        n = t.serial.inWaiting()
        if n:
            data = t.serial.read(n)
            last = time.monotonic()
            interrupted = False
            for b in data:
                if len(ends) >= 2:
                    break
                if b == 4:
                    ends.append(len(buf))
                    continue
                buf.append(b)
                if not ends:
                    if b == 10:
                        s = line.decode(errors="replace").rstrip("\r")
                        text.append(s)
                        if on_line:
                            on_line(s)
                        line = bytearray()
                    else:
                        line.append(b)
            if b"MPY: soft reboot" in buf[-200:]:
                text.append("")
                return "\n".join(text), "the board restarted while the script ran (crash)"
            continue
        if time.monotonic() - last > limit:
            if interrupted:
                try:
                    dev.recover()
                except Exception:
                    pass
                return "\n".join(text), "the board stayed silent for %ss after an interrupt" % limit
            t.serial.write(b"\x03")
            interrupted = True
            last = time.monotonic()
        time.sleep(0.005)
    if line:
        text.append(line.decode(errors="replace"))
    err = bytes(buf[ends[0]:]).decode(errors="replace").strip()
    if err and os.environ.get("SOAK_DEBUG"):
        sys.stderr.write(err + "\n")
    return "\n".join(text), (err.splitlines()[-1] if err else None)


class Run:
    """One soak: the board, its peers, the parameters, the sections collected so far."""

    def __init__(self, board, port, host_ip, quick, out, micropython):
        self.board = board
        self.info = boards.load(board)
        self.port = port
        self.host_ip = host_ip or "127.0.0.1"
        self.quick = quick
        self.out = out
        self.micropython = micropython
        self.counts = dict(QUICK if quick else FULL)
        self.vb = None
        self.dev = None
        self.closing = []
        self.params = {}

    # -- board ---------------------------------------------------------------------------------------
    def start(self):
        from firmware.deploy import deploy
        from firmware.device import Board

        if self.port is None:
            from firmware.vboard import VirtualBoard

            log = (lambda m: sys.stderr.write("vboard: %s\n" % m)) if os.environ.get("SOAK_DEBUG") else None
            self.vb = VirtualBoard(self.board, micropython=self.micropython, log=log)
            self.port_dev = self.vb.start()
            self.heap = self.vb.heap
            # The long runs run at the ESP32 budget (or the board's own, when smaller).
            self.small_heap = min(self.heap, boards.heap_words(boards.load(HEAP_BOARD)),
                                  key=lambda w: int(w.rstrip("K")))
        else:
            self.port_dev = self.port
            self.heap = self.small_heap = None
        try:
            self.dev = Board(self.port_dev)
            deploy(self.dev, self.board, log=lambda m: None)
        except Exception as e:
            raise SoakError("cannot deploy to the board on %s: %s" % (self.port_dev, e))

    def reconnect(self, tries=5):
        """A fresh raw-REPL session; a board that will not answer is interrupted, at last power-cycled."""
        import serial

        from firmware.device import Board

        if self.dev is not None:
            try:
                self.dev.close()
            except Exception:
                pass
            self.dev = None
        last = None
        for k in range(tries):
            try:
                self.dev = Board(self.port_dev)
                return self.dev
            except Exception as e:
                last = e
            try:
                with serial.Serial(self.port_dev, 115200, timeout=1) as p:
                    p.write(b"\r\x03\x03\x02")  # whatever it was doing: stop, friendly REPL
            except Exception:
                pass
            if self.vb is not None and k >= 2:
                self.vb.crash()
            time.sleep(0.5)
        raise SoakError("the board on %s does not answer: %s" % (self.port_dev, last))

    def stop(self):
        for c in reversed(self.closing):
            try:
                c()
            except Exception:
                pass
        if self.dev is not None:
            try:
                self.dev.close()
            except Exception:
                pass
        if self.vb is not None:
            self.vb.stop()

    def peers(self):
        from firmware.peers import EchoServer

        tcp = EchoServer(self.host_ip).start()
        udp = EchoServer(self.host_ip, udp=True).start()
        self.closing += [tcp.stop, udp.stop]
        s = socket.socket()
        s.bind((self.host_ip, 0))
        closed = s.getsockname()[1]
        s.close()
        self.params.update({"host": self.host_ip, "tcp_echo": tcp.port, "udp_echo": udp.port,
                            "closed_port": closed, "quick": self.quick, "quick_values": QUICK_VALUES,
                            "max_sockets": self.info["max_sockets"], "board": self.board})
        self.params.update(self.counts)
        self.echo = tcp

    def script(self, name, limit=None, after_reset=None, small=False, on_line=None, **extra):
        """Soft-reset, run soak_<name>.py (small: on the virtual board at the ESP32 heap budget); return its
        rows (a row that broke when the script stopped)."""
        limit = limit or max(self.counts["call_limit_ms"] / 1000 * 2, 10)
        if self.vb is not None:
            self.vb.heap = self.small_heap if small else self.heap  # a soft reset starts the interpreter anew
        try:
            self.dev.soft_reset()
        except Exception:
            try:
                self.reconnect()
            except Exception as e:
                return [new_row(name + ".reset", "soft reset before soak_%s.py" % name, 1, 1, [str(e)])]
        if after_reset:
            after_reset()
        text, err = stream(self.dev, script_code(name, dict(self.params, **extra)), limit, on_line)
        rows = parse_rows(text)
        if err:
            rows.append(new_row(name + ".stopped", "soak_%s.py ran to its end" % name, 1, 1, [err]))
        if not rows:
            rows.append(new_row(name + ".silent", "soak_%s.py reported results" % name, 1, 1,
                                ["no result lines"] + text.splitlines()[-3:]))
        return rows


# -- the sections ---------------------------------------------------------------------------------------

def section_badinput(run):
    rows = []
    for part in ("api", "spi", "compat"):
        rows += run.script("badinput", part=part)
    return rows


def fd_count(run):
    """Open file descriptors of the virtual board's interpreter (None on a real board)."""
    proc = getattr(run.vb, "_proc", None)
    try:
        return len(os.listdir("/proc/%d/fd" % proc.pid))
    except (AttributeError, OSError):
        return None


def section_long(run):
    fds = {}

    def on_line(line):
        if line.startswith("@FD "):
            _, when, rid = line.split()
            fds.setdefault(rid, {})[when] = fd_count(run)

    rows = run.script("long", limit=60, small=True, on_line=on_line)
    for r in rows:
        got = fds.get(r["id"], {})
        if got.get("before") is not None and got.get("after") is not None:
            r["tried"] += 1
            r["notes"].append("interpreter fds before %d, after %d" % (got["before"], got["after"]))
            if got["after"] > got["before"]:
                r["broke"] += 1
                r["notes"].append("files left open")
    return rows


def section_power(run):
    from firmware import soak_power

    return soak_power.run(run)


def section_dns(run):
    from firmware import soak_dns

    return soak_dns.run(run)


def section_tls(run):
    from firmware import soak_tls

    return soak_tls.run(run)


def section_threads(run):
    return run.script("threads", limit=60)


def section_exhaust(run):
    from firmware import soak_power

    return soak_power.exhaust(run)



_RUNNERS = {"badinput": section_badinput, "long": section_long, "power": section_power, "dns": section_dns,
            "tls": section_tls, "threads": section_threads, "exhaust": section_exhaust}


def run(board="UNIX", port=None, host_ip=None, quick=False, only=None, out=print, micropython=None, out_dir=None,
        seed=None):
    """Run the soak (only: a subset of SECTION_IDS); write <out_dir or build/soak>/<BOARD>.json and .md;
    return the report."""
    started = time.time()
    r = Run(board, port, host_ip, quick, out, micropython)
    r.rng = random.Random(seed if seed is not None else int(started))
    r.seed = seed if seed is not None else int(started)
    sections = []
    try:
        r.start()
        r.peers()
        out("soak on %s (%s board%s), %s run" % (r.port_dev, board, ", heap %s" % r.heap if r.heap else "",
                                                 "quick" if quick else "full"))
        for sid, title in SECTIONS:
            if only and sid not in only:
                continue
            t0 = time.time()
            try:
                rows = _RUNNERS[sid](r)
            except Exception as e:
                rows = [new_row(sid + ".error", "section ran", 1, 1, ["%s: %s" % (type(e).__name__, e)])]
            dt = time.time() - t0
            sec = {"id": sid, "title": title, "rows": rows, "duration_s": round(dt, 1)}
            sections.append(sec)
            tried, broke = totals([sec])
            out("  %-24s %8d tried %4d broke  %6.1f s" % (title, tried, broke, dt))
    finally:
        r.stop()
    report = assemble(r, sections, started, only)
    write(report, out, out_dir)
    return report


def assemble(r, sections, started, only=None):
    """The report dict (schema ws2-soak/1)."""
    from firmware.bench.report import run_facts

    tried, broke = totals(sections)
    return {
        "schema": SCHEMA,
        "board": {"name": r.info["name"], "heap_kb": r.info["heap_kb"], "max_sockets": r.info["max_sockets"]},
        "virtual": r.vb is not None,
        "heap": r.heap,
        "small_heap": getattr(r, "small_heap", None),
        "port": None if r.vb is not None else r.port,
        "quick": bool(r.quick),
        "only": sorted(only) if only else None,
        "counts": r.counts,
        "seed": getattr(r, "seed", None),
        **run_facts(started),
        "tried": tried,
        "broke": broke,
        "sections": sections,
    }


def markdown(report):
    """The report as Markdown."""
    from firmware.bench.report import esc

    b = report["board"]
    lines = ["# ws2 soak: %s" % b["name"], "",
             "%s run on %s, %s, in %.0f s; seed %s. Code: %s." % (
                 "Quick" if report["quick"] else "Full",
                 "the virtual board (heap %s; long runs at %s, the %s budget)" % (
                     report["heap"], report["small_heap"], HEAP_BOARD) if report["virtual"] else report["port"],
                 report["started"], report["duration_s"], report["seed"], report["code"]), "",
             "**%d tried, %d broke** (the target of every \"broke\" is 0)." % (report["tried"], report["broke"]),
             "", "Counts: " + ", ".join("%s %s" % (k, v) for k, v in sorted(report["counts"].items())), ""]
    for s in report["sections"]:
        tried = sum(r["tried"] for r in s["rows"])
        broke = sum(r["broke"] for r in s["rows"])
        lines += ["## %s" % s["title"], "", "%d tried, %d broke, %.1f s." % (tried, broke, s["duration_s"]), "",
                  "| what was tried | tried | broke | notes |", "|---|--:|--:|---|"]
        for r in s["rows"]:
            lines.append("| %s | %d | %d | %s |" % (esc(r["what"]), r["tried"], r["broke"],
                                                    esc("; ".join(r["notes"]))))
        lines.append("")
    return "\n".join(lines)


def write(report, out=print, out_dir=None):
    """Write <BOARD>.json and <BOARD>.md; print where."""
    d = out_dir or OUT_DIR
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, report["board"]["name"])
    with open(base + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(markdown(report))
    out("soak: %d tried, %d broke; report in %s.md and .json" % (report["tried"], report["broke"],
                                                                 os.path.relpath(base, ROOT)))
