# Device helper (not a test module): exchanges through the capture layer, run on the board by host_tests/hil.
# MIT licence; part of ws2 for MicroPython. Each returns what the board sent and received, for the host to
# compare with the pcap file it fetches.
import ws2

try:
    from providers import lspinst
except ImportError:
    lspinst = None

PATH = "/.ws2/capture.pcap"


def install(kb=64, over=None):
    """Capture chains over TCP and UDP (IPv6 too where the port has it) put first; start a fresh capture."""
    import os

    ws2.catalog.reset()
    ids = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
    over = over or [i for i in (1001, 1002, 1003, 1004) if i in ids]
    chains = lspinst.install("capture", over, first=True)
    for p in (PATH, PATH + ".1"):
        try:
            os.remove(p)
        except OSError:
            pass
    ws2.config(capture={"file": PATH, "kb": kb})
    return chains


def finish():
    """Stop: the last WSACleanup unloads the layer, which closes the file; restore the catalog and settings."""
    ws2.config(capture={}, dns_servers=[])
    ws2.catalog.reset()


def _conn(af, addr):
    s = ws2.socket(af, ws2.SOCK_STREAM, 0)
    ws2.connect(s, addr)
    return s


def _drain(s):
    got = b""
    while True:
        d = ws2.recv(s, 1024)
        if not d:
            return got
        got += d


def _all(s, data):
    i = 0
    while i < len(data):
        i += ws2.send(s, data[i : i + 1024])


def http(ip, port):
    """A GET with Connection: close; -> (board port, server port, request, response)."""
    s = _conn(ws2.AF_INET, (ip, port))
    req = b"GET /hello HTTP/1.1\r\nHost: ws2.test\r\nConnection: close\r\n\r\n"
    _all(s, req)
    resp = _drain(s)
    me = ws2.getsockname(s)[1]
    ws2.closesocket(s)
    return me, port, req, resp


def mqtt(ip, port):
    """CONNECT, CONNACK, PUBLISH (QoS 0), DISCONNECT; -> (board port, server port, sent, received)."""
    s = _conn(ws2.AF_INET, (ip, port))
    cid = b"ws2-board"
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + bytes((0, len(cid))) + cid
    connect = bytes((0x10, len(var))) + var
    topic = b"ws2/test"
    body = b"\x00" + bytes((len(topic),)) + topic + b"hello from the board"
    publish = bytes((0x30, len(body))) + body
    sent = connect
    _all(s, connect)
    got = b""
    while len(got) < 4:
        got += ws2.recv(s, 4 - len(got))
    _all(s, publish)
    _all(s, b"\xe0\x00")
    sent += publish + b"\xe0\x00"
    got += _drain(s)  # the server closes after DISCONNECT
    me = ws2.getsockname(s)[1]
    ws2.closesocket(s)
    return me, port, sent, got


def echo6(port, size):
    """TCP over IPv6 loopback: size bytes out, the same back; -> (board port, server port, size, echo intact).

    The bytes are i * 7 & 255 for i in range(size) (the host makes them too: the board's heap has no room
    for their repr)."""
    s = _conn(ws2.AF_INET6, ("::1", port, 0, 0))
    data = bytes(i * 7 & 0xFF for i in range(size))
    _all(s, data)
    got = b""
    while len(got) < size:
        got += ws2.recv(s, 2048)
    me = ws2.getsockname(s)[1]  # 0 on the unix port, whose getsockname has no IPv6 port
    ws2.closesocket(s)
    return me, port, size, got == data


def udp_echo(ip, port, n):
    """n datagrams to a UDP echo server and back; -> (board port, server port, [(sent, received)])."""
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 3000)
    pairs = []
    for i in range(n):
        d = b"datagram %d " % i + bytes(range(i * 10 % 200))
        ws2.sendto(s, d, (ip, port))
        pairs.append((d, ws2.recvfrom(s, 512)[0]))
    me = ws2.getsockname(s)[1]
    ws2.closesocket(s)
    return me, port, pairs


def dns(ip, port, name):
    """getaddrinfo through nspm with one configured server; -> the addresses found."""
    ws2.config(dns_servers=[[ip, port]])
    return sorted(set(a[4][0] for a in ws2.getaddrinfo(name, 80, ws2.AF_INET)))


def status():
    """The capture's (running, records, bytes, lost), asked on a fresh capture socket."""
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    try:
        return ws2.WSAIoctl(s, ws2.SIO_CAPTURE_STATUS)
    finally:
        ws2.closesocket(s)
