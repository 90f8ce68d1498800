# Installing ws2 the way most MicroPython users do: from a mip index (`make mip-index`) served over
# HTTP by the host, with mpremote's mip and with the board's own mip, onto a fresh virtual board
# with the ESP32's heap budget; then a TCP echo and a name lookup through ws2 on the board.
# MIT licence; part of ws2 for MicroPython.
import functools
import http.server
import os
import subprocess
import sys
import threading

import pytest

from firmware import mipindex, packages
from firmware.bench import ECHO_SCRIPT, echo_result
from firmware.device import Board
from firmware.vboard import VirtualBoard

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
BUDGET_BOARD = "ESP32_GENERIC"  # the smallest heap of the boards ws2 supports

LOOKUP = """
import ws2
ws2.config(dns_servers=[('127.0.0.1', %d)])
ws2.WSAStartup(0x0202)
try:
    print(ws2.gethostbyname('a.ws2.test')[3])
finally:
    ws2.WSACleanup()
    ws2.config(dns_servers=[])
"""
LIB = """
import os
def _walk(d, out):
    for n in os.listdir(d):
        p = d + '/' + n
        if os.stat(p)[0] & 0x4000:
            _walk(p, out)
        else:
            out.append(p)
    return out
print(sorted(_walk('/lib', [])))
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def index_url(request, tmp_path_factory):
    if request.config.getoption("--port"):
        pytest.skip("drives virtual boards of its own")
    out = str(tmp_path_factory.mktemp("mip") / "index")
    mipindex.build(out)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=out))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class Fresh:
    """A virtual board with an empty flash and the ESP32's heap budget; exec() runs code in its raw REPL."""

    def __init__(self, vb):
        self.vb = vb
        self.device = vb.device
        self.link = None

    def exec(self, code, timeout=60):
        if self.link is None:
            self.link = Board(self.device)
        return self.link.exec(code, timeout=timeout)

    def soft_reset(self):
        self.exec("")
        self.link.soft_reset()

    def release(self):
        # mpremote needs the serial line to itself.
        if self.link is not None:
            self.link.close()
            self.link = None


@pytest.fixture
def fresh(request, lib_ws2):
    vb = VirtualBoard(BUDGET_BOARD, micropython=request.config.getoption("--micropython"))
    vb.start()
    f = Fresh(vb)
    try:
        yield f
    finally:
        f.release()
        vb.stop()


def mpremote_mip(board, *args):
    board.release()
    r = subprocess.run([MPREMOTE, "connect", board.device, "mip", "install"] + list(args), capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def last_line(out):
    return out.strip().splitlines()[-1]


def test_mpremote_mip_installs_bytecode_that_echoes_and_resolves(fresh, index_url, tcp_echo, dns_servers):
    mpremote_mip(fresh, "--index", index_url, "ws2", "ws2-dns")
    files = eval(last_line(fresh.exec(LIB)))
    want = packages.by_name()
    names = sorted("/lib/" + rel[:-3] + ".mpy" for n in ("ws2", "ws2-dns") for _, rel in want[n]["files"])
    assert files == names
    fresh.soft_reset()
    assert echo_result(fresh.exec(ECHO_SCRIPT % tcp_echo.port))[0]
    assert last_line(fresh.exec(LOOKUP % dns_servers["ok"].port)) == "['192.0.2.1']"


def test_board_mip_installs_a_package_with_its_deps(fresh, index_url, tcp_echo, dns_servers):
    out = fresh.exec("import mip\nmip.install('ws2-dns', index=%r)" % index_url, timeout=300)
    assert "Done" in out or "ws2-dns" in out
    files = eval(last_line(fresh.exec(LIB)))
    assert "/lib/providers/nspm.mpy" in files and "/lib/providers/wspm/__init__.mpy" in files  # ws2 came as a dep
    assert not any(f.endswith(".py") for f in files)
    fresh.soft_reset()
    assert echo_result(fresh.exec(ECHO_SCRIPT % tcp_echo.port))[0]
    assert last_line(fresh.exec(LOOKUP % dns_servers["ok"].port)) == "['192.0.2.1']"


def test_ws2_alone_is_tcp_without_dns_or_tls(fresh, index_url, tcp_echo):
    mpremote_mip(fresh, "--index", index_url, "ws2")
    files = eval(last_line(fresh.exec(LIB)))
    assert not [f for f in files if "nspm" in f or "ssllsp" in f or "nsrouter" in f or "addrinfo" in f]
    fresh.soft_reset()
    ok, _, loaded = echo_result(fresh.exec(ECHO_SCRIPT % tcp_echo.port))  # loaded: while the socket was open
    assert ok
    assert "providers.wspm" in loaded
    # The modules a TCP client loads: the set the flash budget for "router + wspm" counts.
    assert set(loaded) <= {rel[:-3].replace("/", ".").replace(".__init__", "") for rel in packages.TCP}
    assert not [m for m in loaded if m.endswith(("nspm", "ssllsp", "nsrouter", "addrinfo", "dnsmsg"))]


def test_source_install_echoes_on_the_esp32_budget(fresh, index_url, tcp_echo):
    mpremote_mip(fresh, "--index", index_url, "--no-mpy", "ws2")
    files = eval(last_line(fresh.exec(LIB)))
    assert files and all(f.endswith(".py") for f in files)
    fresh.soft_reset()
    assert echo_result(fresh.exec(ECHO_SCRIPT % tcp_echo.port))[0]
