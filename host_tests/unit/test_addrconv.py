# ws2/addrconv: byte order and the pure inet_pton/inet_ntop, checked against the host's socket module.
# MIT licence; part of ws2 for MicroPython.
import socket
import sys

import pytest
from hypothesis import given, settings, strategies as st

import ws2
from ws2 import addrconv

V6 = [
    "::", "::1", "1::", "1::2", "fe80::1", "2001:db8::5", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
    "1::3:4:5:6:7:8", "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::ffff:0.0.0.0", "ABCD:EF01::",
    "0000:0000:0000:0000:0000:0000:0000:0001", "0:0:0:0:0:ffff:255.255.255.255",
]
BAD_V6 = [
    "", ":", ":::", "1:::2", "1::2::3", "12345::", "g::", "::g", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8", ":1::", "1::2:", "1:2:3:4:5:6:7", "1.2.3.4", "1.2.3.4::", "::1.2.3.4:5", "::1.2.3",
    "::01.2.3.4", "::256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%3", " ::1", "::1 ", "::0x1", "[::1]",
]
V4 = ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.0.5", "192.168.1.100"]
BAD_V4 = ["", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..2.3", "1.2.3.", " 1.2.3.4",
          "1.2.3.4 ", "+1.2.3.4", "0x1.2.3.4", "1.2.3.-4", "1234.1.1.1", "١.2.3.4", "a.b.c.d"]


@pytest.mark.parametrize("text", V4)
def test_pton4_rows(text):
    assert ws2.inet_pton(ws2.AF_INET, text) == socket.inet_pton(socket.AF_INET, text)
    assert ws2.inet_ntop(ws2.AF_INET, socket.inet_pton(socket.AF_INET, text)) == text


@pytest.mark.parametrize("text", BAD_V4)
def test_bad_v4_is_einval(text):
    with pytest.raises(ws2.WSAError) as e:
        ws2.inet_pton(ws2.AF_INET, text)
    assert e.value.errno == ws2.WSAEINVAL and ws2.WSAGetLastError() == ws2.WSAEINVAL


@pytest.mark.parametrize("text", V6)
def test_pton6_rows(text):
    b = ws2.inet_pton(ws2.AF_INET6, text)
    assert b == socket.inet_pton(socket.AF_INET6, text)
    assert ws2.inet_ntop(ws2.AF_INET6, b) == socket.inet_ntop(socket.AF_INET6, b)


@pytest.mark.parametrize("text", BAD_V6)
def test_bad_v6_is_einval(text):
    with pytest.raises(ws2.WSAError) as e:
        ws2.inet_pton(ws2.AF_INET6, text)
    assert e.value.errno == ws2.WSAEINVAL


def test_ntop6_forms():
    p = lambda t: socket.inet_pton(socket.AF_INET6, t)  # noqa: E731
    assert ws2.inet_ntop(ws2.AF_INET6, p("::ffff:1.2.3.4")) == "::ffff:1.2.3.4"  # v4-mapped
    assert ws2.inet_ntop(ws2.AF_INET6, p("::1")) == "::1"
    assert ws2.inet_ntop(ws2.AF_INET6, bytes(16)) == "::"
    assert ws2.inet_ntop(ws2.AF_INET6, p("1:0:0:2:0:0:0:3")) == "1:0:0:2::3"  # the longest run
    assert ws2.inet_ntop(ws2.AF_INET6, p("1:0:0:2:0:0:3:4")) == "1::2:0:0:3:4"  # a tie: the first
    assert ws2.inet_ntop(ws2.AF_INET6, p("1:0:2:3:4:5:6:7")) == "1:0:2:3:4:5:6:7"  # one zero group stays
    assert ws2.inet_ntop(ws2.AF_INET6, p("2001:DB8::A")) == "2001:db8::a"  # lower case
    assert ws2.inet_ntop(ws2.AF_INET6, bytearray(p("::2"))) == "::2"
    assert ws2.inet_ntop(ws2.AF_INET6, memoryview(p("::2"))) == "::2"


@settings(max_examples=4000, deadline=None, database=None)
@given(st.binary(min_size=16, max_size=16) | st.lists(st.sampled_from([0, 0, 0, 1, 0xFF, 0xFFFF]), min_size=8,
                                                         max_size=8).map(lambda w: b"".join(x.to_bytes(2, "big") for x in w)))
def test_ntop6_agrees_with_the_host(b):
    assert addrconv.ntop6(b) == socket.inet_ntop(socket.AF_INET6, b)
    assert addrconv.pton6(addrconv.ntop6(b)) == b


def _host_pton(af, text):
    try:
        return socket.inet_pton(af, text)
    except (OSError, ValueError, UnicodeEncodeError):
        return None


@settings(max_examples=6000, deadline=None, database=None)
@given(st.text(alphabet="0123456789abcdefABCDEF:.", max_size=46))
def test_pton6_agrees_with_the_host(text):
    assert addrconv.pton6(text) == _host_pton(socket.AF_INET6, text)


@settings(max_examples=4000, deadline=None, database=None)
@given(st.text(alphabet="0123456789.", max_size=20))
def test_pton4_agrees_with_the_host(text):
    assert addrconv.pton4(text) == _host_pton(socket.AF_INET, text)


def test_inet_bad_arguments():
    cases = [
        (ws2.inet_pton, (ws2.AF_INET, None), ws2.WSAEFAULT),
        (ws2.inet_pton, (ws2.AF_INET, b"1.2.3.4"), ws2.WSAEFAULT),
        (ws2.inet_pton, (99, "1.2.3.4"), ws2.WSAEAFNOSUPPORT),
        (ws2.inet_pton, ("2", "1.2.3.4"), ws2.WSAEINVAL),
        (ws2.inet_ntop, (ws2.AF_INET, None), ws2.WSAEFAULT),
        (ws2.inet_ntop, (ws2.AF_INET, "1234"), ws2.WSAEFAULT),
        (ws2.inet_ntop, (ws2.AF_INET, b"123"), ws2.WSAEINVAL),
        (ws2.inet_ntop, (ws2.AF_INET6, bytes(15)), ws2.WSAEINVAL),
        (ws2.inet_ntop, (ws2.AF_UNSPEC, bytes(4)), ws2.WSAEAFNOSUPPORT),
    ]
    for fn, args, code in cases:
        ws2.WSASetLastError(12345)
        with pytest.raises(ws2.WSAError) as e:
            fn(*args)
        assert e.value.errno == code, (fn, args)
        assert ws2.WSAGetLastError() == code


HOST_ORDER = [(0, 0), (1, 0x0100), (0x1234, 0x3412), (0xFFFF, 0xFFFF), (0x00FF, 0xFF00)]


@pytest.mark.parametrize("x,swapped", HOST_ORDER)
def test_htons_ntohs(x, swapped):
    want = swapped if sys.byteorder == "little" else x
    assert ws2.htons(x) == want == socket.htons(x)
    assert ws2.ntohs(x) == want == socket.ntohs(x)
    assert ws2.ntohs(ws2.htons(x)) == x


@pytest.mark.parametrize("x", [0, 1, 0x12345678, 0xFFFFFFFF, 0x80000000, 0x000000FF])
def test_htonl_ntohl(x):
    assert ws2.htonl(x) == socket.htonl(x)
    assert ws2.ntohl(x) == socket.ntohl(x)
    assert ws2.ntohl(ws2.htonl(x)) == x


@pytest.mark.parametrize("fn,x", [(ws2.htons, -1), (ws2.htons, 0x10000), (ws2.ntohs, 1 << 40), (ws2.htonl, -1),
                                  (ws2.htonl, 1 << 32), (ws2.ntohl, -5), (ws2.htons, "1"), (ws2.htonl, 1.0),
                                  (ws2.htons, None), (ws2.ntohl, True)])
def test_byte_order_range_and_type_are_einval(fn, x):
    ws2.WSASetLastError(0)
    with pytest.raises(ws2.WSAError) as e:
        fn(x)
    assert e.value.errno == ws2.WSAEINVAL and ws2.WSAGetLastError() == ws2.WSAEINVAL
