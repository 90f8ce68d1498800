# Boards on the virtual board: each board's bundle and heap budget running ws2, deploy (incremental,
# surviving resets), mip installs, boot.py's Wi-Fi with a stand-in network module, and the frozen
# UNIX firmware when a MicroPython tree is given (MICROPY_DIR).
# MIT licence; part of ws2 for MicroPython.
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from firmware import ROOT, boards, deploy as dep, wifi
from firmware.device import Board
from firmware.peers import EchoServer
from firmware.vboard import VirtualBoard

pytestmark = pytest.mark.hil
# Emulated boards have no network and a firmware heap of their own: test_emuboard covers them.
BOARDS = [n for n in boards.names() if not boards.load(n).get("emulator")]
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")

ECHO = """
import gc, ws2
gc.collect()
free0 = gc.mem_free()
ws2.WSAStartup(0x0202)
s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
ws2.connect(s, (%r, %d))
msg = b'x' * 64
got = b''
for i in range(20):
    ws2.send(s, msg)
    got = b''
    while len(got) < 64:
        got += ws2.recv(s, 64)
ws2.closesocket(s)
ws2.WSACleanup()
gc.collect()
print(repr((got == msg, free0, gc.mem_free(), gc.mem_free() + gc.mem_alloc())))
"""


def _micropython(request):
    return request.config.getoption("--micropython")


@pytest.fixture
def vb_factory(request):
    started = []

    def make(board, flash=None):
        vb = VirtualBoard(board, flash=flash, micropython=_micropython(request))
        vb.start()
        started.append(vb)
        return vb

    yield make
    for vb in started:
        vb.stop()


# -- every board's bundle, under its heap budget ----------------------------------------------------

@pytest.mark.parametrize("board", BOARDS)
def test_echo_through_ws2_with_the_board_heap(board, vb_factory):
    vb = vb_factory(board)
    b = Board(vb.device)
    try:
        dep.deploy(b, board, log=lambda m: None)
        with EchoServer("127.0.0.1") as echo:
            ok, free0, free1, total = eval(b.exec(ECHO % ("127.0.0.1", echo.port), timeout=60).strip().splitlines()[-1])
        assert ok
        heap = boards.load(board)["heap_kb"] * 1024 * (8 if sys.maxsize > 2 ** 32 else 4) // 4
        assert total <= heap  # the interpreter really runs with the board's budget
    finally:
        b.close()


@pytest.mark.parametrize("board", BOARDS)
def test_hil_smoke_suite_with_the_board_heap(board, request):
    # The device tests of the router core path (echo 1 B .. 64 KB, recv, errors) run by the real harness
    # on a virtual board with this board's heap and bundle.
    args = [sys.executable, "-m", "pytest", "host_tests/device/test_dispatch.py", "-m", "hil", "-q",
            "-p", "no:cacheprovider", "--board", board, "-o", "addopts="]
    if _micropython(request):
        args += ["--micropython", _micropython(request)]
    env = {k: v for k, v in os.environ.items() if k not in ("PORT",)}
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout


# -- deploy ----------------------------------------------------------------------------------------

def _board_hashes(b, paths):
    return b.eval("[__import__('binascii').hexlify(__import__('hashlib').sha256(open(p, 'rb').read()).digest())"
                  ".decode() for p in %r]" % (paths,))


def _all_good(b, files):
    want = [hashlib.sha256(data).hexdigest() for _, data in files]
    return _board_hashes(b, [p for p, _ in files]) == want


def test_deploy_is_incremental(vb_factory):
    vb = vb_factory("UNIX")
    files = dep.snapshot("UNIX")  # fixed contents: others may be editing the sources meanwhile
    log = []
    t0 = time.monotonic()
    first = dep.deploy(vb.device, "UNIX", log=log.append, files=files)
    t1 = time.monotonic()
    second = dep.deploy(vb.device, "UNIX", log=log.append, files=files)
    t2 = time.monotonic()
    assert sorted(first) == sorted(p for p, _ in files)
    assert second == []
    assert "deployed UNIX: 0 of %d files changed (0.0 KB)" % len(files) in log[-1]
    print("deploy of %d files: first %.1f s, second %.1f s" % (len(files), t1 - t0, t2 - t1))


def test_deploy_survives_a_reset_mid_copy(vb_factory, monkeypatch):
    vb = vb_factory("UNIX")
    files = dep.snapshot("UNIX")
    b = Board(vb.device)
    real = Board.write_file
    crashed = []

    def write_then_crash(self, path, data):
        if not crashed and path.endswith("wspm/__init__.mpy.part"):
            real(self, path, data[: len(data) // 2])  # half a file on flash, then the power goes
            crashed.append(path)
            vb.crash()
            time.sleep(0.3)
        return real(self, path, data)

    monkeypatch.setattr(Board, "write_file", write_then_crash)
    log = []
    try:
        dep.deploy(b, "UNIX", log=log.append, files=files)
        assert crashed and any("reset during the copy" in line for line in log)
        assert vb.resets >= 1
        assert _all_good(b, files)
        assert b.eval("[n for n in __import__('os').listdir('/lib/providers') if n.endswith('.part')]") == []
    finally:
        b.close()


def test_the_next_deploy_repairs_an_interrupted_one(vb_factory, monkeypatch):
    vb = vb_factory("UNIX")
    files = dep.snapshot("UNIX")
    real = Board.write_file

    def crash_on_catalog(self, path, data):
        if path.endswith("catalog.mpy.part"):
            real(self, path, data[:100])
            vb.crash()
            time.sleep(0.3)
        return real(self, path, data)

    monkeypatch.setattr(Board, "write_file", crash_on_catalog)
    with pytest.raises(dep.DeployError, match="Run the deploy again"):
        dep.deploy(vb.device, "UNIX", log=lambda m: None, files=files, attempts=1)
    monkeypatch.setattr(Board, "write_file", real)
    log = []
    copied = dep.deploy(vb.device, "UNIX", log=log.append, files=files)
    assert "/lib/ws2/catalog.mpy" in copied
    assert any("removed /lib/ws2/catalog.mpy.part" in line for line in log)  # the torn copy is cleaned up
    b = Board(vb.device)
    try:
        assert _all_good(b, files)
    finally:
        b.close()


def test_deploy_removes_shadowing_sources_and_stale_modules(vb_factory):
    vb = vb_factory("UNIX")
    files = dep.snapshot("UNIX")
    # A module an earlier deploy installed and the bundle no longer has must go.
    dep.deploy(vb.device, "UNIX", log=lambda m: None, files=files + [("/lib/providers/retired.mpy", b"M\x06\x00\x1f")])
    # A .py beside the .mpy wins on import (MicroPython prefers .py).
    with open(os.path.join(vb.flash, "lib", "ws2", "catalog.py"), "w") as f:
        f.write("raise ImportError('stale source copy')\n")
    log = []
    assert dep.deploy(vb.device, "UNIX", log=log.append, files=files) == []
    assert not os.path.exists(os.path.join(vb.flash, "lib", "ws2", "catalog.py"))
    assert not os.path.exists(os.path.join(vb.flash, "lib", "providers", "retired.mpy"))
    assert "2 removed" in log[-1]


def test_deploy_cli_on_the_virtual_board(vb_factory, frozen_ws2):
    vb = vb_factory("UNIX")
    r = subprocess.run([sys.executable, "-m", "firmware", "deploy", "--board", "UNIX", "--port", vb.device],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "deployed UNIX:" in r.stdout and re.search(r"\[ *1/\d+\] /boot.py", r.stdout), r.stdout
    # On a firmware with ws2 frozen in, the deploy says that /lib's copy is not the one imported.
    assert ("note: ws2 is frozen into this firmware" in r.stdout) == frozen_ws2, r.stdout


# -- mip (mpremote mip install) ------------------------------------------------------------------

MIP_CHECK = "import ws2\nprint(ws2.__file__)\nprint(ws2.WSAStartup(0x0202).description)\nws2.WSACleanup()"


def _mpremote(dev, *args, timeout=120):
    r = subprocess.run([MPREMOTE, "connect", dev] + list(args), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, cwd=ROOT)
    return r.returncode, r.stdout.replace("\r\n", "\n"), r.stderr


def test_mip_install_from_a_local_checkout(vb_factory, lib_ws2):
    vb = vb_factory("UNIX")
    rc, out, err = _mpremote(vb.device, "mip", "install", "--target", "/lib", os.path.join(ROOT, "package.json"))
    assert rc == 0, out + err
    rc, out, err = _mpremote(vb.device, "exec", MIP_CHECK)
    assert rc == 0, out + err
    assert out.splitlines()[0] == "/lib/ws2/__init__.py"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_mip_install_from_a_url(vb_factory, lib_ws2):
    # A repository URL (mip turns a github: one into a raw.githubusercontent.com URL): served here
    # by a local HTTP server rooted at the checkout.
    handler = lambda *a, **k: _Quiet(*a, directory=ROOT, **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        vb = vb_factory("UNIX")
        url = "http://127.0.0.1:%d/package.json" % server.server_address[1]
        rc, out, err = _mpremote(vb.device, "mip", "install", "--target", "/lib", url)
        assert rc == 0, out + err
        rc, out, err = _mpremote(vb.device, "exec", MIP_CHECK)
        assert rc == 0, out + err
        assert out.splitlines()[0] == "/lib/ws2/__init__.py"
    finally:
        server.shutdown()
        server.server_close()


# -- boot.py and make wifi, with a stand-in network module -------------------------------------------

# The unix port has no `network`; this one behaves like esp32/rp2's WLAN for boot.py. The access
# point it "sees" is read from /fakeap.json.
FAKE_NETWORK = """
import json, time
STA_IF = 0
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_CONNECT_FAIL = -1
STAT_NO_AP_FOUND = -2
STAT_WRONG_PASSWORD = -3
_s = {'active': False, 'ssid': None, 'pw': None, 't': 0}
def country(c=None):
    _s['country'] = c
def hostname(h=None):
    _s['hostname'] = h
class WLAN:
    def __init__(self, i):
        pass
    def active(self, v=None):
        if v is not None:
            _s['active'] = v
        return _s['active']
    def connect(self, ssid, pw):
        _s['ssid'] = ssid; _s['pw'] = pw; _s['t'] = time.ticks_ms()
    def status(self):
        ap = json.load(open('/fakeap.json'))
        if _s['ssid'] != ap['ssid']:
            return STAT_CONNECTING if _s['ssid'] else STAT_IDLE
        if time.ticks_diff(time.ticks_ms(), _s['t']) < ap.get('delay_ms', 200):
            return STAT_CONNECTING
        return STAT_GOT_IP if _s['pw'] == ap['password'] else STAT_WRONG_PASSWORD
    def isconnected(self):
        return self.status() == STAT_GOT_IP
    def ifconfig(self):
        return ('192.168.4.23', '255.255.255.0', '192.168.4.1', '192.168.4.1')
"""


@pytest.fixture
def wifi_board(vb_factory):
    vb = vb_factory("ESP32_GENERIC")
    os.makedirs(os.path.join(vb.flash, "lib"), exist_ok=True)
    with open(os.path.join(vb.flash, "lib", "network.py"), "w") as f:
        f.write(FAKE_NETWORK)
    with open(os.path.join(vb.flash, "fakeap.json"), "w") as f:
        json.dump({"ssid": "home", "password": "correct horse", "delay_ms": 300}, f)
    b = Board(vb.device)
    dep.deploy(b, "ESP32_GENERIC", log=lambda m: None)
    yield vb, b
    b.close()


def _boot(b):
    t0 = time.monotonic()
    out = b.exec("exec(open('/boot.py').read(), {})\nimport ws2.catalog\nprint('catalog loaded', "
                 "ws2.catalog.loaded)", timeout=30)
    return out, time.monotonic() - t0


def test_wifi_command_stores_secrets_and_boot_joins(wifi_board):
    vb, b = wifi_board
    log = []
    report = wifi.write(b, "ESP32_GENERIC", wifi.secrets_payload("home", "correct horse", "GB"), log=log.append)
    assert report == "boot: Wi-Fi 'home' up, address 192.168.4.23"
    with open(os.path.join(vb.flash, "secrets.json")) as f:
        assert json.load(f) == {"ssid": "home", "password": "correct horse", "country": "GB"}
    assert not os.path.exists(os.path.join(ROOT, "secrets.json"))
    out, _ = _boot(b)
    assert "catalog loaded True" in out


def test_wifi_command_finds_the_board_when_board_is_not_given(wifi_board):
    vb, b = wifi_board
    # The unix port is not a Wi-Fi board: BOARD=UNIX (make's default) is refused with the list of Wi-Fi boards.
    with pytest.raises(wifi.WifiError, match="give BOARD= one of ESP32_GENERIC, ESP32_GENERIC_S3"):
        wifi.write(b, "UNIX", wifi.secrets_payload("home", "correct horse"), log=lambda m: None)


def test_boot_wrong_password_is_a_clear_message(wifi_board):
    vb, b = wifi_board
    with pytest.raises(wifi.WifiError, match="did not join"):
        wifi.write(b, "ESP32_GENERIC", wifi.secrets_payload("home", "wrong password"), log=lambda m: None)
    out, took = _boot(b)
    assert "boot: Wi-Fi 'home' not joined after" in out and "(status STAT_WRONG_PASSWORD)" in out
    assert "check the SSID and password" in out and took < 5  # no need to wait out the timeout
    assert "catalog loaded True" in out  # the board boots on without network


def test_boot_gives_up_after_the_timeout(wifi_board):
    vb, b = wifi_board
    wifi.write(b, "ESP32_GENERIC", wifi.secrets_payload("far-away-ap", "password1", timeout_s=2), check=False,
               log=lambda m: None)
    out, took = _boot(b)
    assert "boot: Wi-Fi 'far-away-ap' not joined after 2" in out and "(status STAT_CONNECTING)" in out
    assert 2 <= took < 9  # well inside mpremote's 10 s wait for boot.py


def test_boot_without_secrets_or_network(wifi_board):
    vb, b = wifi_board
    out, _ = _boot(b)
    assert "boot: no /secrets.json: Wi-Fi stays off (make wifi SSID=... PASSWORD=... PORT=...)" in out
    with open(os.path.join(vb.flash, "secrets.json"), "w") as f:
        f.write("{not json")
    assert "is not {\"ssid\": ..., \"password\": ...}" in _boot(b)[0]
    os.remove(os.path.join(vb.flash, "lib", "network.py"))
    with open(os.path.join(vb.flash, "secrets.json"), "w") as f:
        json.dump({"ssid": "home", "password": "correct horse"}, f)
    b.soft_reset()
    assert "this firmware has no network module" in _boot(b)[0]


# -- the frozen UNIX firmware (needs a MicroPython source tree) ------------------------------------------

@pytest.mark.timeout(3600)  # a full MicroPython build, then the device suite on it
@pytest.mark.skipif(not os.environ.get("MICROPY_DIR"),
                    reason="set MICROPY_DIR=/path/to/micropython (a MicroPython source tree with its submodules "
                           "and a C compiler) to build the UNIX firmware with ws2 frozen and run the HIL smoke "
                           "suite on it")
def test_frozen_unix_firmware_runs_ws2(tmp_path):
    out = tmp_path / "UNIX"
    r = subprocess.run([sys.executable, "-m", "firmware", "firmware", "--board", "UNIX", "--micropy-dir",
                        os.environ["MICROPY_DIR"], "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    exe = str(out / "micropython")
    # Empty flash: ws2 can only come from the frozen modules.
    with VirtualBoard("UNIX", micropython=exe) as vb, EchoServer("127.0.0.1") as echo:
        b = Board(vb.device)
        try:
            # A frozen package's __path__ names .frozen (its __file__ does not).
            where = b.exec("import ws2\nprint(ws2.__path__)").strip()
            assert where == ".frozen/ws2", where
            ok = eval(b.exec(ECHO % ("127.0.0.1", echo.port), timeout=60).strip().splitlines()[-1])[0]
            assert ok
        finally:
            b.close()
    r = subprocess.run([sys.executable, "-m", "pytest", "host_tests/device", "-m", "hil", "-q", "-p",
                        "no:cacheprovider", "-o", "addopts=", "--micropython", exe], capture_output=True, text=True,
                       cwd=ROOT, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
