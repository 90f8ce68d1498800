# `make soak QUICK=1` end to end: the CLI runs every section on the board (virtual unless --port) and the
# report it writes has every section, the counts it ran with, and nothing broken.
# MIT licence; part of ws2 for MicroPython.
import json
import os
import subprocess
import sys

from firmware import ROOT, soak


def test_quick_soak_reports_every_section_and_nothing_broke(request, tmp_path):
    board = request.config.getoption("--board")
    cmd = [sys.executable, "-m", "firmware", "soak", "--quick", "--board", board, "--out-dir", str(tmp_path),
           "--seed", "1"]
    for opt in ("--port", "--host-ip", "--micropython"):
        v = request.config.getoption(opt)
        if v:
            cmd += [opt, v]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    with open(os.path.join(tmp_path, board + ".json")) as f:
        report = json.load(f)
    with open(os.path.join(tmp_path, board + ".md")) as f:
        md = f.read()
    assert report["schema"] == soak.SCHEMA and report["quick"] is True
    assert [s["id"] for s in report["sections"]] == list(soak.SECTION_IDS), out
    broken = ["%s / %s: %s" % (s["title"], row["what"], row["notes"][:4] + row.get("failures", [])[:4])
              for s in report["sections"] for row in s["rows"] if row["broke"]]
    assert not broken, "\n".join(broken)
    for s in report["sections"]:
        assert s["rows"], s["title"]
        assert "## " + s["title"] in md
        assert sum(row["tried"] for row in s["rows"]) > 0 or report["port"], s["title"]
    assert report["broke"] == 0 and report["tried"] > 10000
    assert report["counts"] == soak.QUICK and "Counts: " in md and "kills 10" in md
    assert r.returncode == 0, out
