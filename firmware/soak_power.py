# firmware/soak_power: `make soak` section 3 (power cuts while the catalog and settings change, interrupted
# deploys) and section 7 (exhaustion, with the interpreter's descriptor limit standing for lwIP's socket limit).
# MIT licence; part of ws2 for MicroPython.
#
# Both need the virtual board: a power cut is a SIGKILL of its interpreter (its
# flash directory survives, as flash does), and the lwIP limit is the
# interpreter's RLIMIT_NOFILE. On a real board these rows say so and count 0.
import ast
import os
import resource
import signal
import subprocess
import sys
import time

from firmware import ROOT

# Runs on the board after a cut: what it booted with, and whether networking starts.
CHECK = """
import ws2
from ws2 import catalog, settings
catalog.forget()
settings.forget()
catalog.ensure()
print('@CK ' + repr(([(e[catalog.I_PROVIDER_ID], e[catalog.I_NAME]) for e in catalog.entries],
                     [ws2.config()['dns_timeout_ms'], sorted(ws2.config()['hosts'].items())])))
ws2.WSAStartup(0x0202)
s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
ws2.closesocket(s)
ws2.WSACleanup()
print('@UP')
"""
RESTORE = "from ws2 import catalog, settings\ncatalog.reset()\nsettings.reset()"


def _rows_not_virtual(what):
    from firmware.soak import new_row

    return [new_row("power." + k, w, 0, 0, ["not run: needs the virtual board (a real board is not power-cut "
                                             "from here)"]) for k, w in what]


def run(r):
    """Section 3's rows."""
    from firmware.soak import new_row, script_code

    if r.vb is None:
        return _rows_not_virtual((("cut", "power cuts during catalog and settings writes"),
                                  ("deploy", "interrupted deploys repaired by the next deploy")))
    rows = []
    dev = r.dev
    dev.soft_reset()
    dev.exec(RESTORE)
    # The states one cycle passes through (twice round, from the default catalog and settings).
    out = dev.exec(script_code("cut", dict(r.params, cycles=2)), timeout=60)
    states = set()
    for line in out.splitlines():
        if line.startswith("@ST "):
            states.add(repr(ast.literal_eval(line[4:])))
    cats = set(repr(ast.literal_eval(s)[0]) for s in states)
    sets = set(repr(ast.literal_eval(s)[1]) for s in states)
    loop = script_code("cut", dict(r.params, cycles=0))
    n = r.counts["kills"]
    t = new_row("power.cut", "power cuts at random instants during install / deinstall / reorder / settings "
                             "writes, then boot + WSAStartup", 0, 0)
    seen = {}
    fails = []
    for k in range(n):
        try:
            dev.t.exec_raw_no_follow(loop)
            dev.t.read_until(1, b"LOOP", timeout=20)
            time.sleep(r.rng.uniform(0.0, 0.08))
            r.vb.crash()
            time.sleep(0.05)
            dev.recover()
            got = dev.exec(CHECK, timeout=30)
        except Exception as e:
            got = "error: %s: %s" % (type(e).__name__, str(e).strip().splitlines()[-1:] or "")
            try:
                dev.recover()
            except Exception:
                pass
        t["tried"] += 1
        ck = [ln for ln in got.splitlines() if ln.startswith("@CK ")]
        why = None
        if "warning" in got:
            why = "a warning at boot: " + got.strip().splitlines()[0]
        elif not ck or "@UP" not in got:
            why = "no catalog or no networking after the cut: " + got.strip()[-200:]
        else:
            cat, st = ast.literal_eval(ck[0][4:])
            if repr(cat) not in cats:
                why = "catalog is neither the old nor the new one: %r" % (cat,)
            elif repr(st) not in sets:
                why = "settings are neither the old nor the new ones: %r" % (st,)
            else:
                key = "%d entries, timeout %d" % (len(cat), st[0])
                seen[key] = seen.get(key, 0) + 1
        if why:
            t["broke"] += 1
            fails.append("cut %d: %s" % (k, why))
    t["notes"] = ["states a cycle passes through: %d catalogs x %d settings" % (len(cats), len(sets)),
                  "after the cuts: " + ", ".join("%s x%d" % kv for kv in sorted(seen.items()))] + fails[:6]
    t["failures"] = fails[:200]
    rows.append(t)
    try:
        dev.exec(RESTORE)
    except Exception:
        pass
    rows.append(_deploys(r))
    return rows


def _lib_matches(r, files):
    """Which deployed files differ on the virtual board's flash from the bundle."""
    bad = []
    for path, data in files:
        p = os.path.join(r.vb.flash, path.lstrip("/"))
        try:
            with open(p, "rb") as f:
                if f.read() != data:
                    bad.append(path)
        except OSError:
            bad.append(path)
    return bad


def _deploys(r):
    from firmware import bundle, deploy
    from firmware.soak import new_row

    n = r.counts["deploy_kills"]
    t = new_row("power.deploy", "`make deploy` killed at a random instant (every other time with a power cut "
                                "of the board too), then deployed again", 0, 0)
    fails = []
    # The bundle `--no-build` deploys: build/<BOARD>/, for the arch the virtual board runs.
    arch = deploy.board_arch(r.dev) or r.info["mpy_arch"]
    bundle.build(r.board, out_dir=os.path.join(ROOT, "build", r.board), arch=arch)
    files = [(p, deploy._read(local)) for local, p in deploy.files_for(r.board)]
    r.dev.close()
    r.dev = None
    cmd = [sys.executable, "-m", "firmware", "deploy", "--port", r.port_dev, "--board", r.board, "--no-build"]
    lib = [p for p, _ in files if p.startswith("/lib/")]
    cut_at = []
    try:
        for k in range(n):
            # damage the flash so the deploy has work to do: some modules gone, one cut short
            for p in r.rng.sample(lib, min(6, len(lib))):
                try:
                    os.remove(os.path.join(r.vb.flash, p.lstrip("/")))
                except OSError:
                    pass
            victim = os.path.join(r.vb.flash, r.rng.choice(lib).lstrip("/"))
            if os.path.exists(victim):
                with open(victim, "r+b") as f:
                    f.truncate(max(0, os.path.getsize(victim) // 2))
            p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
            delay = r.rng.uniform(0.3, 2.5)
            cut_at.append(delay)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            if k % 2:
                r.vb.crash()
                time.sleep(0.2)
            t["tried"] += 1
            fix = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
            bad = _lib_matches(r, files)
            if fix.returncode != 0:
                if os.environ.get("SOAK_DEBUG"):
                    sys.stderr.write(fix.stdout.decode(errors="replace"))
                t["broke"] += 1
                fails.append("round %d: the next deploy failed: %s" % (
                    k, fix.stdout.decode(errors="replace").strip().splitlines()[-1:]))
            elif bad:
                t["broke"] += 1
                fails.append("round %d: the next deploy left %d files different: %s" % (k, len(bad), bad[:3]))
    finally:
        r.reconnect()
    ok = None
    try:
        r.dev.soft_reset()
        ok = r.dev.exec("import ws2\nws2.WSAStartup(0x0202)\nws2.WSACleanup()\nprint('ok')").strip()
    except Exception as e:
        ok = str(e)
    t["tried"] += 1
    if ok != "ok":
        t["broke"] += 1
        fails.append("ws2 after the last deploy: " + ok[-200:])
    t["notes"] = ["kills after %.1f-%.1f s" % (min(cut_at), max(cut_at)) if cut_at else "no rounds",
                  "then: ws2 starts on the board"] + fails[:6]
    t["failures"] = fails
    return t


# -- section 7 ------------------------------------------------------------------------------------------

def _limit_fds(r, extra):
    """RLIMIT_NOFILE of the virtual board's interpreter: the descriptors it holds now + extra sockets."""
    proc = getattr(r.vb, "_proc", None)
    if proc is None:
        return None
    used = len(os.listdir("/proc/%d/fd" % proc.pid))
    lim = used + extra
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (lim, lim))
    return lim


def exhaust(r):
    """Section 7's rows: the handle table full, MemoryError inside a provider, lwIP's socket limit."""
    rows = r.script("exhaust", part="table")
    if r.vb is not None:
        lim = r.info["max_sockets"]
        rows += r.script("exhaust", part="lwip", after_reset=lambda: _limit_fds(r, lim))
    else:
        rows += r.script("exhaust", part="lwip")
    return rows
