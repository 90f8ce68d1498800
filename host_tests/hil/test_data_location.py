# Where ws2 keeps its catalog and settings: on MicroPython's unix port run as a program (not as the
# virtual board) in $WS2_ROOT, else ~/.ws2, and nowhere else; on the virtual board in /.ws2 of its
# flash, as on a board. MIT licence; part of ws2 for MicroPython.
import os
import subprocess

import pytest

from firmware import ROOT
from firmware.vboard import VirtualBoard, default_micropython

WRITE = """
import sys
sys.path.insert(0, %r)
import ws2
from ws2 import board, catalog
ws2.WSAStartup(0x0202)
ws2.config(dns_timeout_ms=1500)
catalog.save()
ws2.WSACleanup()
print('ROOT', board.root())
"""


def snapshot(top):
    out = set()
    for d, dirs, names in os.walk(top):
        dirs[:] = [x for x in dirs if x not in (".git", ".venv", "build", "__pycache__", ".pytest_cache")]
        for n in names:
            p = os.path.join(d, n)
            out.add((p, os.stat(p).st_mtime_ns))
    return out


def run_unix(tmp_path, env):
    try:
        mp = default_micropython()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    work = tmp_path / "cwd"
    work.mkdir()
    script = tmp_path / "write.py"
    script.write_text(WRITE % ROOT)
    full = {k: v for k, v in os.environ.items() if k not in ("WS2_ROOT", "HOME")}
    full.update(env)
    before = snapshot(ROOT)
    root_had = os.path.exists("/.ws2")
    r = subprocess.run([mp, str(script)], cwd=str(work), env=full, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert snapshot(ROOT) == before  # nothing written into the checkout
    assert os.listdir(str(work)) == []  # nor into the current directory
    if not root_had:
        assert not os.path.exists("/.ws2")  # nor at the root of the host's filesystem
    return r.stdout.split("ROOT ")[-1].strip()


def files_under(top):
    return sorted(os.path.relpath(os.path.join(d, n), top) for d, _, names in os.walk(top) for n in names)


def test_unix_port_writes_under_home_dot_ws2(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    got = run_unix(tmp_path, {"HOME": str(home)})
    assert got == str(home / ".ws2")
    names = files_under(str(home))
    assert names and all(n.startswith(".ws2" + os.sep) for n in names)
    assert any("catalog" in n for n in names) and any("settings" in n for n in names)


def test_unix_port_writes_under_ws2_root_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "data" / "deeper" / "ws2"  # missing levels are made
    got = run_unix(tmp_path, {"HOME": str(home), "WS2_ROOT": str(data)})
    assert got == str(data)
    assert files_under(str(home)) == []
    assert any("catalog" in n for n in files_under(str(data)))


def test_virtual_board_keeps_its_data_in_its_flash(request, tmp_path, monkeypatch):
    if request.config.getoption("--port"):
        pytest.skip("drives a virtual board of its own")
    monkeypatch.setenv("WS2_ROOT", str(tmp_path / "not-here"))  # the board must not take the host's setting
    flash = tmp_path / "flash"
    from firmware.deploy import deploy
    from firmware.device import Board

    with VirtualBoard("UNIX", flash=str(flash), micropython=request.config.getoption("--micropython")) as vb:
        b = Board(vb.device)
        try:
            deploy(b, "UNIX", log=lambda m: None)
            out = b.exec("import ws2\nfrom ws2 import board, catalog\nws2.config(dns_timeout_ms=1500)\n"
                         "catalog.save()\nprint(board.root())\nws2.config(dns_timeout_ms=2000)")
        finally:
            b.close()
    assert out.strip().splitlines()[-1] == "/.ws2"
    assert any("catalog" in n for n in os.listdir(str(flash / ".ws2")))
    assert not (tmp_path / "not-here").exists()
