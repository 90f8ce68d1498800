# Device tests: wspm's WSPStringToAddress / WSPAddressToString (called without a socket, and through the router
# in Windows' text forms), and what wspm refuses (multipoint, connect-time data, QoS).
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import JUNK, err, stop

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {'RPI_PICO_W_EMU': {
    'test_what_wspm_refuses': 'no network on the emulated board',
}}


def _slot(i):
    # The live provider's proc-table slot: the router drops wspm when its last
    # user is gone, so a module object kept from an earlier test may be stale.
    __import__("providers.wspm")
    return sys.modules["providers.wspm"]._TABLE[i]


def S2A(text, af, info):
    return _slot(ws2.WSP_STRINGTOADDRESS)(text, af, info)  # no socket involved


def A2S(addr, info):
    return _slot(ws2.WSP_ADDRESSTOSTRING)(addr, info)


V4 = 2
V6 = 23

# (family, text) -> address tuple; Windows' non-strict IPv4 forms included
GOOD = (
    (V4, "127.0.0.1", ("127.0.0.1", 0)),
    (V4, "10.0.0.5:80", ("10.0.0.5", 80)),
    (V4, "127.1", ("127.0.0.1", 0)),
    (V4, "0x7f.0.0.1:8080", ("127.0.0.1", 8080)),
    (V4, "010.0.0.1", ("8.0.0.1", 0)),
    (V4, "3232235777", ("192.168.1.1", 0)),
    (V4, "255.255.255.255:65535", ("255.255.255.255", 65535)),
    (V6, "::1", ("::1", 0, 0, 0)),
    (V6, "::", ("::", 0, 0, 0)),
    (V6, "[::1]:80", ("::1", 80, 0, 0)),
    (V6, "FE80::1%4", ("fe80::1", 0, 0, 4)),
    (V6, "[fe80::0:1%4]:8080", ("fe80::1", 8080, 0, 4)),
    (V6, "::ffff:1.2.3.4", ("::ffff:1.2.3.4", 0, 0, 0)),
    (V6, "2001:db8:0:0:1:0:0:1", ("2001:db8::1:0:0:1", 0, 0, 0)),
    (V6, "2001:0db8:0000:0000:0000:0000:0002:0001", ("2001:db8::2:1", 0, 0, 0)),
    (V6, "1:0:0:2:0:0:0:3", ("1:0:0:2::3", 0, 0, 0)),
    (V6, "1:2:3:4:5:6:7:8", ("1:2:3:4:5:6:7:8", 0, 0, 0)),
    (0, "1.2.3.4:5", ("1.2.3.4", 5)),
    (0, "[::1]:5", ("::1", 5, 0, 0)),
)
BAD = (
    (V4, "1.2.3.4:"), (V4, "1.2.3.4:65536"), (V4, "256.1.1.1"), (V4, "1.2.3.4.5"), (V4, "example.com"),
    (V4, ""), (V4, " 1.2.3.4"), (V4, "::1"), (V4, "08.1.1.1"), (V4, "1.2.3.4:x"),
    (V6, "1.2.3.4"), (V6, "[::1"), (V6, "[::1]x"), (V6, "1:2:3:4:5:6:7:8:9"), (V6, "::1::"),
    (V6, "fe80::1%eth0"), (V6, "12345::"), (V6, ":1:2::"), (V6, "::1.2.3"),
    (6, "1.2.3.4"),  # AF_IPX is not TCP/IP
)

# address tuple -> text
TEXT = (
    (("127.0.0.1", 0), "127.0.0.1"),
    (("10.0.0.5", 80), "10.0.0.5:80"),
    (("::1", 0, 0, 0), "::1"),
    (("::1", 80, 0, 0), "[::1]:80"),
    (("::1", 80), "[::1]:80"),
    (("fe80::1", 8080, 0, 4), "[fe80::1%4]:8080"),
    (("FE80:0:0::1%4", 0), "fe80::1%4"),
    (("::ffff:1.2.3.4", 0, 0, 0), "::ffff:1.2.3.4"),
    (("2001:db8:0:0:1:0:0:1", 443, 7, 0), "[2001:db8::1:0:0:1]:443"),
)
TEXT_BAD = (
    (None, ws2.WSAEFAULT), ("1.2.3.4", ws2.WSAEFAULT), (("1.2.3.4",), ws2.WSAEFAULT), ((1234, 80), ws2.WSAEFAULT),
    (("1.2.3.4", "80"), ws2.WSAEFAULT), (("1.2.3.4", 70000), ws2.WSAEINVAL), (("1.2.3", 0), ws2.WSAEINVAL),
    (("example.com", 80), ws2.WSAEINVAL), (("::1", 0, 0, -1), ws2.WSAEINVAL), (("::g", 0, 0, 0), ws2.WSAEINVAL),
)


def _code(f, *args):
    try:
        f(*args)
    except ws2.WSAError as e:
        return e.errno
    return None


def _restore():
    # The board's flash outlives the test: leave the default catalog behind.
    stop()
    from ws2 import catalog

    catalog.reset()


# Windows' text forms, as wspm (like CE's) must give them.
S2A_ROWS = (
    ("10.0.0.5", ws2.AF_INET, ("10.0.0.5", 0)), ("10.0.0.5:80", ws2.AF_INET, ("10.0.0.5", 80)),
    ("255.255.255.255:65535", ws2.AF_INET, ("255.255.255.255", 65535)),
    ("::1", ws2.AF_INET6, ("::1", 0, 0, 0)), ("[::1]:80", ws2.AF_INET6, ("::1", 80, 0, 0)),
    ("[fe80::1%3]:8080", ws2.AF_INET6, ("fe80::1", 8080, 0, 3)), ("::ffff:10.0.0.5", ws2.AF_INET6, ("::ffff:10.0.0.5", 0, 0, 0)),
)
A2S_ROWS = (
    (("10.0.0.5", 0), "10.0.0.5"), (("10.0.0.5", 80), "10.0.0.5:80"), (("::1", 0, 0, 0), "::1"),
    (("::1", 80, 0, 0), "[::1]:80"), (("fe80::1", 8080, 0, 3), "[fe80::1%3]:8080"),
)


def test_string_to_address():
    for af, text, want in GOOD:
        got = S2A(text, af, None)
        assert got == want, (af, text, got, want)
    for af, text in BAD:
        assert _code(S2A, text, af, None) == ws2.WSAEINVAL, (af, text)
    for text in (None, b"1.2.3.4", 1234):
        assert _code(S2A, text, V4, None) == ws2.WSAEFAULT, text


def test_address_to_string():
    for addr, want in TEXT:
        got = A2S(addr, None)
        assert got == want, (addr, got, want)
    for addr, code in TEXT_BAD:
        assert _code(A2S, addr, None) == code, (addr, code)
    # the protocol's family must be the address's
    v6 = ws2.WSAProtocolInfo(address_family=ws2.AF_INET6)
    assert _code(A2S, ("1.2.3.4", 0), v6) == ws2.WSAEINVAL
    assert A2S(("::1", 0, 0, 0), v6) == "::1"


def test_round_trip():
    for addr, text in TEXT:
        back = S2A(text, V6 if ":" in addr[0] else V4, None)
        assert A2S(back, None) == text, (addr, text, back)


def test_ipv6_text_agrees_with_libc():
    # Where the port has inet_ntop (CPython, unix), its canonical text must be ours.
    try:
        import socket

        ntop = socket.inet_ntop
        af6 = socket.AF_INET6
    except (ImportError, AttributeError):
        return
    patterns = ("0000000000000000", "0000000000000001", "1000000000000000", "1001000100010001",
                "1000000100000001", "0000000011000000", "0000000000001111", "0000000000000111",
                "1100110011001100", "0100000001000000", "0000000001000001")
    for p in patterns:
        b = bytearray(16)
        for i in range(8):
            if p[2 * i] == "1":
                b[2 * i] = 0x20
            if p[2 * i + 1] == "1":
                b[2 * i + 1] = 0x0D
        text = ntop(af6, bytes(b))
        assert S2A(text, V6, None)[0] == text, (p, text)
        assert A2S((text, 0, 0, 0), None) == text


def test_through_the_router(env):
    ws2.WSAStartup(0x0202)
    try:
        try:
            s2a = ws2.WSAStringToAddress
            a2s = ws2.WSAAddressToString
        except (AttributeError, ImportError):
            env.skip("the router has no WSAStringToAddress yet (ws2/addrconv)")
        assert s2a("10.0.0.5:80", ws2.AF_INET) == ("10.0.0.5", 80)
        assert a2s(("10.0.0.5", 80)) == "10.0.0.5:80"
        ws2.WSASetLastError(JUNK)
        try:
            s2a("nonsense", ws2.AF_INET)
            raise AssertionError("parsed nonsense")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEINVAL
        assert ws2.WSAGetLastError() == ws2.WSAEINVAL
    finally:
        ws2.WSACleanup()


def test_what_wspm_refuses(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        a = (env.host_ip, env.tcp_echo_port)
        for args in ((a, b"caller data"), (a, None, bytearray(8)), (a, None, None, object()),
                     (a, None, None, None, object())):
            ws2.WSASetLastError(JUNK)
            try:
                ws2.WSAConnect(s, *args)
                raise AssertionError("WSAConnect took connect-time data or QoS")
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAEOPNOTSUPP, e
            assert ws2.WSAGetLastError() == ws2.WSAEOPNOTSUPP
        try:
            ws2.WSAJoinLeaf(s, a)
            raise AssertionError("WSAJoinLeaf worked")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEOPNOTSUPP, e
        ws2.WSAConnect(s, a)  # nothing above changed the socket
        ws2.send(s, b"ok")
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_wspm_address_strings(env):
    from ws2 import instl

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        try:
            ws2.WSAStringToAddress("10.0.0.5", ws2.AF_INET)
        except ws2.WSAError as e:
            if e.errno == ws2.WSAEOPNOTSUPP:
                env.skip("providers/wspm has no WSPStringToAddress yet (slot 29)")
            raise
        for text, af, want in S2A_ROWS:
            if af == ws2.AF_INET6 and not instl.has_ipv6():
                continue
            assert ws2.WSAStringToAddress(text, af) == want, (text, ws2.WSAStringToAddress(text, af))
        for addr, want in A2S_ROWS:
            if len(addr) == 4 and not instl.has_ipv6():
                continue
            assert ws2.WSAAddressToString(addr) == want, (addr, ws2.WSAAddressToString(addr))
        for text, af in (("10.0.0.256", ws2.AF_INET), ("10.0.0.5:", ws2.AF_INET), ("10.0.0.5:65536", ws2.AF_INET),
                         ("host.example", ws2.AF_INET), ("", ws2.AF_INET), ("[::1", ws2.AF_INET6)):
            if af == ws2.AF_INET6 and not instl.has_ipv6():
                continue
            err(ws2.WSAEINVAL, ws2.WSAStringToAddress, text, af)
    finally:
        stop()
