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


def test_a_board_hanging_in_boot_on_a_cut_short_module_is_repaired_by_the_next_deploy(request, lib_ws2):
    # MicroPython's loader waits forever on a .mpy cut short, and every soft reset runs boot.py again:
    # the deploy must break in with Ctrl-C and come in without a soft reset.
    if request.config.getoption("--port"):
        import pytest

        pytest.skip("cuts a module short on a virtual board's flash")
    from firmware.deploy import deploy
    from firmware.device import Board
    from firmware.vboard import VirtualBoard

    name = request.config.getoption("--board")
    vb = VirtualBoard(name)
    vb.start()
    try:
        b = Board(vb.device)
        deploy(b, name, log=lambda m: None)
        b.close()
        files = []  # what the deploy put there: the next one deploys the same
        for top, _, names in os.walk(os.path.join(vb.flash, "lib")):
            for n in names:
                with open(os.path.join(top, n), "rb") as f:
                    files.append(("/" + os.path.relpath(os.path.join(top, n), vb.flash), f.read()))
        with open(os.path.join(vb.flash, "boot.py"), "rb") as f:
            files.append(("/boot.py", f.read()))
        good = dict(files)["/lib/ws2/catalog.mpy"]
        with open(os.path.join(vb.flash, "lib", "ws2", "catalog.mpy"), "wb") as f:
            f.write(good[: len(good) // 2])
        vb.crash()  # boots into boot.py, which imports the module and hangs
        copied = deploy(vb.device, name, log=lambda m: None, build=False, files=files)
        assert copied == ["/lib/ws2/catalog.mpy"]
        b = Board(vb.device)
        assert b.exec("import ws2\nws2.WSAStartup(0x0202)\nws2.WSACleanup()\nprint('up')").strip() == "up"
        b.close()
    finally:
        vb.stop()
