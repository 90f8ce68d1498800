# firmware/bench/report: the bench report: the JSON document (schema ws2-bench/1), its Markdown table and
# chart, written to build/bench/<BOARD>.*.
# MIT licence; part of ws2 for MicroPython.
import datetime
import json
import os
import platform
import statistics
import time

from firmware import ROOT
from firmware.bench.figures import FIGURE_IDS, IMPORT_FORMULA, SCHEMA, budgets, finish
from firmware.bench.stats import fmt, measured, verdict

OUT_DIR = os.path.join(ROOT, "build", "bench")


def _cell(side):
    if side is None:
        return "-"
    if not measured(side):
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


def esc(text):
    """Text for a Markdown table cell."""
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
            esc(f["title"]), f["unit"], esc(_cell(f["raw"])), esc(_cell(f["ws2"])), esc(_compare(f)),
            esc("; ".join(f["notes"]))))
    lines += ["", "## Budgets (docs/testing.md)", "", "| budget | limit | measured | verdict | note |",
              "|---|---|---|---|---|"]
    for g in report["budgets"]:
        lim = "%s %s %s" % (g["op"], fmt(g["limit"]), g["unit"])
        val = "-" if g["value"] is None else "%s %s" % (fmt(g["value"]), g["unit"])
        lines.append("| %s | %s | %s | **%s** | %s |" % (esc(g["what"]), lim, val, g["verdict"],
                                                          esc(g["note"] or "")))
    lines += ["", "## Flash: bundle per board", "",
              "| board | arch | bundle (.mpy) | at mpy-cross -O3 | budget | verdict |", "|---|---|---|---|---|---|"]
    for name, e in sorted(report["flash"].items()):
        if e.get("bytes") is None:
            lines.append("| %s | %s | missing: %s | - | %d KB | missing |" % (
                name, e.get("arch", "?"), esc(e.get("missing")), e["budget"] // 1024))
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
                    lines.append("| %s | %s | %s | %s |" % (op, esc(layer), fmt(v["us"]), fmt(v.get("alloc"))))
                else:
                    lines.append("| %s | %s | missing: %s | - |" % (op, esc(layer), esc(v)))
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
        **run_facts(started),
        "info": info,
        "figures": figures,
        "budgets": budgets(figures, flash),
        "flash": flash,
        "profile": _profile_summary(profile),
    }
    return report


def run_facts(started):
    """What every report states about its run: when it started, how long it took, the host, the code measured."""
    return {
        "started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "code": code_version(),
    }


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
