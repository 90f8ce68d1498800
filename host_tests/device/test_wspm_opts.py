# Device tests: wspm socket options (Winsock numbering, kept where the port lacks them) and ioctls.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import err, pair, sleep_ms

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_options_apply': 'no network on the emulated board',
    'test_ioctls': 'no network on the emulated board',
}}


def _get(s, level, name):
    return ws2.getsockopt(s, level, name)


SOL = 0xFFFF
# (level, name, default on TCP, a value to set, what reads back)
TCP_ROWS = (
    (SOL, ws2.SO_REUSEADDR, 0, 1, 1),
    (SOL, ws2.SO_KEEPALIVE, 0, True, 1),
    (SOL, ws2.SO_LINGER, (0, 0), (1, 5), (1, 5)),
    (SOL, ws2.SO_RCVTIMEO, 0, 1500, 1500),
    (SOL, ws2.SO_SNDTIMEO, 0, 2500, 2500),
    (SOL, ws2.SO_RCVBUF, 8192, 4096, 4096),
    (SOL, ws2.SO_SNDBUF, 8192, 16384, 16384),
    (ws2.IPPROTO_TCP, ws2.TCP_NODELAY, 0, b"\x01\x00\x00\x00", 1),
)
UDP_ROWS = (
    (SOL, ws2.SO_REUSEADDR, 0, 1, 1),
    (SOL, ws2.SO_BROADCAST, 0, 1, 1),
    (ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL, 1, 32, 32),
    (ws2.IPPROTO_IP, ws2.IP_MULTICAST_LOOP, 1, 0, 0),
)


def _rows(s, rows):
    for level, name, default, value, back in rows:
        got = _get(s, level, name)
        assert got == default, (name, got, default)
        ws2.setsockopt(s, level, name, value)
        got = _get(s, level, name)
        assert got == back, (name, got, back)


def test_option_defaults_and_round_trips():
    ws2.WSAStartup(0x0202)
    try:
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        _rows(t, TCP_ROWS)
        assert _get(t, SOL, ws2.SO_TYPE) == ws2.SOCK_STREAM
        assert _get(t, SOL, ws2.SO_ERROR) == 0
        assert _get(t, SOL, ws2.SO_ACCEPTCONN) == 0
        ws2.setsockopt(t, SOL, ws2.SO_DONTLINGER, 1)
        assert _get(t, SOL, ws2.SO_LINGER) == (0, 5) and _get(t, SOL, ws2.SO_DONTLINGER) == 1
        ws2.setsockopt(t, SOL, ws2.SO_LINGER, b"\x01\x00\x07\x00")  # struct linger {1, 7}
        assert _get(t, SOL, ws2.SO_LINGER) == (1, 7)
        ws2.setsockopt(t, SOL, ws2.SO_KEEPALIVE, 0)
        assert _get(t, SOL, ws2.SO_KEEPALIVE) == 0
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        _rows(u, UDP_ROWS)
        assert _get(u, SOL, ws2.SO_TYPE) == ws2.SOCK_DGRAM
        for h in (t, u):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_protocol_info_option():
    ws2.WSAStartup(0x0202)
    try:
        for typ, proto in ((ws2.SOCK_STREAM, ws2.IPPROTO_TCP), (ws2.SOCK_DGRAM, ws2.IPPROTO_UDP)):
            s = ws2.socket(ws2.AF_INET, typ, 0)
            info = _get(s, SOL, ws2.SO_PROTOCOL_INFO)
            assert isinstance(info, ws2.WSAProtocolInfo)
            assert (info.address_family, info.socket_type, info.protocol) == (ws2.AF_INET, typ, proto)
            match = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == info.catalog_entry_id]
            assert match and match[0].protocol_name == info.protocol_name
            assert _get(s, SOL, ws2.SO_PROTOCOL_INFOA).catalog_entry_id == info.catalog_entry_id
            ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_option_errors():
    ws2.WSAStartup(0x0202)
    try:
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        err(ws2.WSAENOPROTOOPT, _get, t, SOL, 0x7777)  # unknown option
        err(ws2.WSAENOPROTOOPT, ws2.setsockopt, t, SOL, 0x7777, 1)
        err(ws2.WSAEINVAL, _get, t, 0x1234, 1)  # unknown level
        err(ws2.WSAEINVAL, _get, t, "SOL", 1)
        # options that do not apply to the socket's protocol
        err(ws2.WSAENOPROTOOPT, _get, u, ws2.IPPROTO_TCP, ws2.TCP_NODELAY)
        err(ws2.WSAENOPROTOOPT, ws2.setsockopt, u, SOL, ws2.SO_LINGER, (1, 1))
        err(ws2.WSAENOPROTOOPT, _get, u, SOL, ws2.SO_KEEPALIVE)
        err(ws2.WSAENOPROTOOPT, _get, t, SOL, ws2.SO_BROADCAST)
        err(ws2.WSAENOPROTOOPT, _get, t, SOL, ws2.SO_MAX_MSG_SIZE)
        # read-only options
        for name in (ws2.SO_ERROR, ws2.SO_TYPE, ws2.SO_ACCEPTCONN, ws2.SO_PROTOCOL_INFO):
            err(ws2.WSAENOPROTOOPT, ws2.setsockopt, t, SOL, name, 1)
        # bad values leave the option as it was
        ws2.setsockopt(t, SOL, ws2.SO_RCVTIMEO, 700)
        err(ws2.WSAEFAULT, ws2.setsockopt, t, SOL, ws2.SO_RCVTIMEO, None)
        err(ws2.WSAEFAULT, ws2.setsockopt, t, SOL, ws2.SO_RCVTIMEO, "700")
        err(ws2.WSAEFAULT, ws2.setsockopt, t, SOL, ws2.SO_RCVTIMEO, b"\x01\x02")  # shorter than a DWORD
        err(ws2.WSAEINVAL, ws2.setsockopt, t, SOL, ws2.SO_RCVTIMEO, -1)
        err(ws2.WSAEFAULT, ws2.setsockopt, t, SOL, ws2.SO_LINGER, ("on", 1))
        err(ws2.WSAEINVAL, ws2.setsockopt, t, SOL, ws2.SO_LINGER, (1, 70000))
        assert _get(t, SOL, ws2.SO_RCVTIMEO) == 700
        for h in (t, u):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_options_apply():
    # What the options do, not only what they read back.
    ws2.WSAStartup(0x0202)
    try:
        # SO_REUSEADDR lets a second socket bind the port a closed server left
        # in TIME_WAIT (Linux wants it on both sockets, Windows on the second)
        l = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.setsockopt(l, SOL, ws2.SO_REUSEADDR, 1)
        ws2.bind(l, ("127.0.0.1", 0))
        ws2.listen(l, 2)
        a = ws2.getsockname(l)
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(c, a)
        s, _ = ws2.accept(l)
        assert _get(s, SOL, ws2.SO_REUSEADDR) == 1  # inherited
        for h in (s, c, l):
            ws2.closesocket(h)
        n = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.setsockopt(n, SOL, ws2.SO_REUSEADDR, 1)
        ws2.bind(n, a)
        ws2.closesocket(n)
        # an accepted socket inherits the listener's options
        l = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.setsockopt(l, ws2.IPPROTO_TCP, ws2.TCP_NODELAY, 1)
        ws2.setsockopt(l, SOL, ws2.SO_RCVTIMEO, 250)
        ws2.bind(l, ("127.0.0.1", 0))
        ws2.listen(l, 2)
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(c, ws2.getsockname(l))
        s, _ = ws2.accept(l)
        assert _get(s, ws2.IPPROTO_TCP, ws2.TCP_NODELAY) == 1
        assert _get(s, SOL, ws2.SO_RCVTIMEO) == 250
        err(ws2.WSAETIMEDOUT, ws2.recv, s, 1)  # and the timeout is in force
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_ioctls():
    ws2.WSAStartup(0x0202)
    try:
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        assert ws2.ioctlsocket(t, ws2.FIONREAD, 0) == 0  # unconnected: 0, as Windows
        assert ws2.ioctlsocket(t, ws2.SIOCATMARK, 0) == 1
        err(ws2.WSAEINVAL, ws2.ioctlsocket, t, 0x4004667A, 0)  # not an ioctl
        err(ws2.WSAEOPNOTSUPP, ws2.WSAIoctl, t, ws2.SIO_KEEPALIVE_VALS, b"\x00" * 12)  # SIO_* it cannot do
        err(ws2.WSAEOPNOTSUPP, ws2.WSAIoctl, t, ws2.SIO_ADDRESS_LIST_QUERY, None, 64)
        err(ws2.WSAEFAULT, ws2.ioctlsocket, t, ws2.FIONBIO, None)
        err(ws2.WSAEFAULT, ws2.WSAIoctl, t, ws2.FIONBIO, None)
        err(ws2.WSAEINVAL, ws2.ioctlsocket, t, "FIONBIO", 1)
        assert ws2.ioctlsocket(t, ws2.FIONBIO, 1) == 0
        assert ws2.WSAIoctl(t, ws2.FIONBIO, b"\x00\x00\x00\x00") is None  # back to blocking, by bytes
        assert ws2.ioctlsocket(t, ws2.FIONBIO - (1 << 32), 1) == 0  # cmd as a signed C long
        ws2.ioctlsocket(t, ws2.FIONBIO, 0)
        ws2.closesocket(t)
        l, c, s = pair()
        ws2.send(c, b"12345")
        n = 0
        for _ in range(300):
            n = ws2.ioctlsocket(s, ws2.FIONREAD, 0)
            if n >= 5:
                break
            sleep_ms(10)
        assert n == 5, n
        assert ws2.WSAIoctl(s, ws2.FIONREAD, None, 4) == 5
        assert ws2.recv(s, 5) == b"12345"
        assert ws2.ioctlsocket(s, ws2.FIONREAD, 0) == 0
        for h in (s, c, l):
            ws2.closesocket(h)
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.bind(u, ("127.0.0.1", 0))
        ws2.sendto(u, b"datagram", ws2.getsockname(u))
        for _ in range(300):
            n = ws2.ioctlsocket(u, ws2.FIONREAD, 0)
            if n:
                break
            sleep_ms(10)
        assert n == 8, n
        ws2.closesocket(u)
    finally:
        ws2.WSACleanup()
