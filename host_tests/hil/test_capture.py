# HIL tests: the capture layer on the board records HTTP, MQTT-shaped, DNS (through nspm), UDP echo and
# TCP over IPv6 exchanges; the host fetches the pcap and reads it with dpkt and tshark.
# MIT licence; part of ws2 for MicroPython.
import http.server
import os
import shutil
import socket
import struct
import subprocess
import threading

import dpkt
import pytest

from firmware import capture
from host_tests.plugin import _upload

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "device", "layer_scenarios.py")
BODY = b"<html><body>" + b"hello from the host " * 200 + b"</body></html>"


class _Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *a):
        pass


class _Tcp:
    """A TCP server on a thread: handler(conn) per connection; what each connection received is kept."""

    def __init__(self, handler, host="127.0.0.1", af=socket.AF_INET):
        self.s = socket.socket(af, socket.SOCK_STREAM)
        self.s.bind((host, 0))
        self.s.listen(4)
        self.port = self.s.getsockname()[1]
        self.handler = handler
        self.received = []
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            with c:
                c.settimeout(10)
                self.received.append(self.handler(c))

    def close(self):
        self.s.close()


def _read_all(c):
    got = b""
    while True:
        d = c.recv(4096)
        if not d:
            return got
        got += d


def _mqtt(c):
    # CONNECT in, CONNACK out, then everything up to DISCONNECT; then the server closes.
    hdr = c.recv(2)
    body = b""
    while len(body) < hdr[1]:
        body += c.recv(hdr[1] - len(body))
    c.sendall(b"\x20\x02\x00\x00")
    rest = b""
    while not rest.endswith(b"\xe0\x00"):
        d = c.recv(4096)
        if not d:
            break
        rest += d
    return hdr + body + rest


def _echo(c):
    got = b""
    while True:
        d = c.recv(4096)
        if not d:
            return got
        got += d
        c.sendall(d)


@pytest.fixture(scope="module")
def peers(host_ip):
    web = http.server.ThreadingHTTPServer((host_ip, 0), _Http)
    threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    mq = _Tcp(_mqtt, host_ip)
    v6 = None
    try:
        v6 = _Tcp(_echo, "::1", socket.AF_INET6)
    except OSError:
        pass
    yield {"http": web.server_address[1], "mqtt": mq, "v6": v6}
    web.shutdown()
    web.server_close()
    mq.close()
    if v6:
        v6.close()


# -- reading the pcap on the host -----------------------------------------------------------

def _packets(data):
    out = []
    for ts, buf in dpkt.pcap.Reader(__import__("io").BytesIO(data)):
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        out.append((ts, ip, ip.data))
    return out


def _addr(ip):
    return socket.inet_ntop(socket.AF_INET6 if len(ip.src) == 16 else socket.AF_INET, ip.src), \
        socket.inet_ntop(socket.AF_INET6 if len(ip.dst) == 16 else socket.AF_INET, ip.dst)


def _board_port(pkts, server_port):
    """The board's port of the (first) exchange with server_port, as recorded: the port may not report it."""
    for _, ip, t in pkts:
        if t.dport == server_port:
            return t.sport
    raise AssertionError("nothing recorded towards port %d" % server_port)


def _tcp_stream(pkts, sport, dport):
    """Bytes one direction of a TCP connection carried, reassembled by sequence number (dpkt)."""
    segs = {}
    isn = None
    for _, ip, t in pkts:
        if isinstance(t, dpkt.tcp.TCP) and t.sport == sport and t.dport == dport:
            if t.flags & dpkt.tcp.TH_SYN:
                isn = t.seq
            elif t.data:
                segs[t.seq] = bytes(t.data)
    assert isn is not None, "no SYN from port %d to %d" % (sport, dport)
    out = b""
    seq = (isn + 1) & 0xFFFFFFFF
    while seq in segs:
        d = segs.pop(seq)
        out += d
        seq = (seq + len(d)) & 0xFFFFFFFF
    assert not segs, "segments after a gap: %r" % sorted(segs)
    return out


def _tshark(path, *args):
    r = subprocess.run(["tshark", "-r", path] + list(args), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _follow(path, board_port, server_port, decode):
    """tshark's own reassembly of the connection: (client bytes, server bytes)."""
    out = _tshark(path, "-q", "-z", "follow,tcp,raw,127.0.0.1:%d,127.0.0.1:%d" % (board_port, server_port), *decode)
    a, b = b"", b""
    for line in out.splitlines():
        if not line.strip() or ":" in line or line.startswith("="):
            continue
        if line.startswith("\t"):
            b += bytes.fromhex(line.strip())
        else:
            a += bytes.fromhex(line.strip())
    return a, b


def _run(device, code, timeout=60):
    return device.exec("import sys\nif '/dtest' not in sys.path:\n    sys.path.append('/dtest')\n" + code,
                       timeout=timeout)


def test_capture_is_read_by_dpkt_and_tshark(device, peers, udp_echo, host_ip, dns_server, tmp_path):
    if host_ip != "127.0.0.1":
        pytest.skip("the capture's addresses are checked for loopback runs")
    mod = _upload(device, __import__("pathlib").Path(SCENARIOS), "layer_scenarios")
    device.soft_reset()
    _run(device, "import ws2, %s as L\nL.install()\nws2.WSAStartup(0x0202)" % mod)
    try:
        h = device.eval("L.http(%r, %d)" % (host_ip, peers["http"]))
        m = device.eval("L.mqtt(%r, %d)" % (host_ip, peers["mqtt"].port))
        u = device.eval("L.udp_echo(%r, %d, 5)" % (host_ip, udp_echo.port))
        names = device.eval("L.dns(%r, %d, 'a.ws2.test')" % (host_ip, dns_server["dns_port"]))
        v6 = None
        if peers["v6"] is not None and device.eval("1003 in [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]"):
            v6 = device.eval("L.echo6(%d, 3000)" % peers["v6"].port)
            assert v6[3], "the IPv6 echo came back changed"
            data6 = bytes(i * 7 & 0xFF for i in range(v6[2]))
            v6 = (v6[0], v6[1], data6, data6)
        st = device.eval("L.status()")
    finally:
        _run(device, "ws2.WSACleanup()\nL.finish()")
    data = capture.fetch(device, "/.ws2/capture.pcap")
    path = str(tmp_path / "board.pcap")
    with open(path, "wb") as f:
        f.write(data)
    assert st[0] and st[1] > 0 and st[3] == 0, st
    assert names == ["192.0.2.1"] or names, names

    pkts = _packets(data)
    # every TCP stream reassembles to exactly the bytes sent and received (dpkt)
    convs = [("http", h), ("mqtt", m)] + ([("v6", v6)] if v6 else [])
    for what, (me, port, sent, got) in convs:
        me = _board_port(pkts, port) if not me else me
        assert _tcp_stream(pkts, me, port) == sent, what
        assert _tcp_stream(pkts, port, me) == got, what
    assert h[3].endswith(BODY)
    assert peers["mqtt"].received[-1] == m[2]
    # addresses and ports are the real ones
    for _, ip, t in pkts:
        if isinstance(t, dpkt.tcp.TCP) and peers["http"] in (t.sport, t.dport):
            assert set(_addr(ip)) == {"127.0.0.1"}
            assert (h[0] or _board_port(pkts, peers["http"])) in (t.sport, t.dport)
    # UDP payloads match, in order, both ways
    me, port, pairs = u
    me = me or _board_port(pkts, port)
    out = [bytes(t.data) for _, ip, t in pkts if isinstance(t, dpkt.udp.UDP) and (t.sport, t.dport) == (me, port)]
    back = [bytes(t.data) for _, ip, t in pkts if isinstance(t, dpkt.udp.UDP) and (t.sport, t.dport) == (port, me)]
    assert out == [p[0] for p in pairs] and back == [p[1] for p in pairs]
    # the DNS exchange nspm made is there, to and from the server's port
    dns = [t for _, ip, t in pkts if isinstance(t, dpkt.udp.UDP) and dns_server["dns_port"] in (t.sport, t.dport)]
    assert len(dns) >= 2
    q = dpkt.dns.DNS(dns[0].data)
    assert q.qd[0].name == "a.ws2.test"

    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed (Debian: apt-get install tshark; `make test` installs it): "
                    "dpkt's checks passed")
    decode = ["-d", "tcp.port==%d,http" % peers["http"], "-d", "tcp.port==%d,mqtt" % peers["mqtt"].port,
              "-d", "udp.port==%d,dns" % dns_server["dns_port"]]
    bad = _tshark(path, "-Y", "_ws.malformed || tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || "
                              "tcp.analysis.retransmission || tcp.analysis.out_of_order || "
                              "_ws.expert.severity >= 6291456", *decode)
    assert bad.strip() == "", bad
    for what, (me, port, sent, got) in convs:
        if what == "v6":
            continue
        me = me or _board_port(pkts, port)
        assert _follow(path, me, port, decode) == (sent, got), what
    uri = _tshark(path, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri", *decode)
    assert uri.split() == ["/hello"]
    assert "ws2/test" in _tshark(path, "-Y", "mqtt.msgtype == 3", "-T", "fields", "-e", "mqtt.topic", *decode)
    dq = _tshark(path, "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "dns.qry.name", *decode)
    assert "a.ws2.test" in dq


def test_ring_stays_bounded_and_survives_a_reset(device, tcp_echo, host_ip, tmp_path):
    mod = _upload(device, __import__("pathlib").Path(SCENARIOS), "layer_scenarios")
    device.soft_reset()
    _run(device, "import ws2, %s as L\nL.install(kb=8, over=[1001])\nws2.WSAStartup(0x0202)" % mod)
    # 30 KB through an 8 KB ring, then a reset with the capture still open (no close, no flush)
    _run(device, "s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)\nws2.connect(s, (%r, %d))\n"
                 "for i in range(30):\n    ws2.send(s, bytes([i]) * 1000)\n    n = 0\n"
                 "    while n < 1000:\n        n += len(ws2.recv(s, 1000 - n))\n" % (host_ip, tcp_echo.port), 120)
    sizes = device.eval("[__import__('os').stat(p)[6] for p in (L.PATH, L.PATH + '.1')]")
    device.soft_reset()
    data = capture.fetch(device, "/.ws2/capture.pcap")
    device.exec("import ws2\nws2.config(capture={})\nws2.catalog.reset()")
    assert sum(sizes) <= 8 * 1024 and all(s <= 4 * 1024 for s in sizes), sizes
    recs, _ = capture.records(data)
    assert recs
    pkts = _packets(data)
    # the newest traffic is there: the last payload bytes are those of the 30th send / its echo
    last = [bytes(t.data) for _, ip, t in pkts if isinstance(t, dpkt.tcp.TCP) and t.data][-1]
    assert set(last) == {29}
    # a record cut at the end (a reset while writing) is left out, the rest still reads
    cut = data + struct.pack("<IIII", 1, 0, 100, 100) + b"x" * 10
    assert len(capture.records(cut)[0]) == len(recs)


def test_capture_streamed_to_the_host(device, udp_echo, host_ip):
    # The host listens; the board sends the pcap header, then each record as it happens.
    ls = socket.socket()
    ls.bind((host_ip, 0))
    ls.listen(1)
    ls.settimeout(30)
    got = []

    def take():
        c, _ = ls.accept()
        with c:
            got.append(_read_all(c))

    t = threading.Thread(target=take, daemon=True)
    t.start()
    mod = _upload(device, __import__("pathlib").Path(SCENARIOS), "layer_scenarios")
    device.soft_reset()
    try:
        _run(device, "import ws2, %s as L\nL.install(over=[1002])\nws2.config(capture={'to': [%r, %d]})\n"
                     "ws2.WSAStartup(0x0202)" % (mod, host_ip, ls.getsockname()[1]))
        u = device.eval("L.udp_echo(%r, %d, 3)" % (host_ip, udp_echo.port))
    finally:
        _run(device, "ws2.WSACleanup()\nL.finish()")  # the last cleanup unloads the layer: the stream ends
    t.join(30)
    ls.close()
    assert got, "the board never connected"
    pkts = _packets(got[0])
    sent = [bytes(x.data) for _, ip, x in pkts if isinstance(x, dpkt.udp.UDP) and x.dport == udp_echo.port]
    assert sent == [p[0] for p in u[2]]
