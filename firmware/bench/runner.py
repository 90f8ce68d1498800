# firmware/bench/runner: one bench run: the board up, the bundle deployed, the peers started, every
# board_scripts/bench_*.py run after a soft reset, the results folded into the report.
# MIT licence; part of ws2 for MicroPython.
import ast
import os
import socket
import struct
import time

from firmware import BOARD_SCRIPTS, ROOT, FirmwareError, boards
from firmware.bench.figures import FULL, ORDER, OWN_PASS, QUICK, apply_results, new_figures, parse_lines
from firmware.bench.report import OUT_DIR, assemble, write
from firmware.bench.romfs import ROMFS_ROOM_KB, deployed_files, drop_romfs, put_romfs
from firmware.bench.sizes import flash_sizes
from firmware.bench.stats import summarize

SCRIPTS = BOARD_SCRIPTS


class BenchError(FirmwareError):
    """The bench could not run at all (no board, no deploy); the CLI reports it as `firmware: message`."""


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
    from firmware.peers import BenchPeers

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
        peers = BenchPeers(host_ip, pinned[0] if pinned else None)
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
                passes.append((name, dict(params, ram_pass="romfs"), OWN_PASS, " (ROMFS import)"))
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
                    if (f["id"] in fids) if fids else (f["group"] == name and f["id"] not in OWN_PASS):
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
