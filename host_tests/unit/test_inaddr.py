# ws2/inaddr against CPython's ipaddress module: parsing and RFC 5952 text; ws2/addrconv's inet_pton side agrees.
# MIT licence; part of ws2 for MicroPython.
import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ws2
from ws2 import addrconv, inaddr


@settings(max_examples=3000, deadline=None, database=None)
@given(st.binary(min_size=16, max_size=16))
def test_ip6_text_round_trip_matches_ipaddress(b):
    text = inaddr.ntop6(b)
    assert text == ipaddress.IPv6Address(b).compressed
    assert inaddr.ip6(text) == b
    assert inaddr.ip6(ipaddress.IPv6Address(b).exploded) == b


@settings(max_examples=2000, deadline=None, database=None)
@given(st.binary(min_size=4, max_size=4))
def test_ip4_round_trip(b):
    text = inaddr.ntop4(b)
    assert text == str(ipaddress.IPv4Address(b)) and inaddr.ip4(text) == b


@settings(max_examples=3000, deadline=None, database=None)
@given(st.text(alphabet="0123456789abcdefABCDEF:.%x ", max_size=45))
def test_ip6_accepts_exactly_what_ipaddress_does(s):
    try:
        want = ipaddress.IPv6Address(s.split("%")[0]).packed if s.split("%")[0] == s.split("%")[0].strip() else None
    except ValueError:
        want = None
    got = inaddr.ip6(s)
    if want is None:
        assert got is None or "%" in s
    else:
        assert got == want


@pytest.mark.parametrize("s", ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "+1.2.3.4", " 1.2.3.4",
                               "1_0.2.3.4", "a.b.c.d", "", "1..3.4", "\u0661.2.3.4", "\u00b2.2.3.4", "1.2.3.\uff14"])
def test_ip4_rejects(s):
    assert inaddr.ip4(s) is None and inaddr.family(s) == 0


@pytest.mark.parametrize("s,b", [("::", bytes(16)), ("::1", bytes(15) + b"\x01"), ("::ffff:1.2.3.4", bytes(10) + b"\xff\xff\x01\x02\x03\x04"),
                                 ("fe80::1%eth0", b"\xfe\x80" + bytes(13) + b"\x01"), ("1:2:3:4:5:6:7::", None)])
def test_ip6_cases(s, b):
    if b is None:
        b = ipaddress.IPv6Address(s).packed
    assert inaddr.ip6(s) == b and inaddr.family(s) == 23


def test_family_and_canonical():
    assert inaddr.family("10.0.0.1") == 2 and inaddr.family("host.example") == 0
    assert inaddr.canonical("2001:DB8:0:0::1") == "2001:db8::1"
    assert inaddr.canonical("name") is None


# -- one parser, two contracts: ws2/addrconv (inet_pton/inet_ntop) is inaddr plus its differences --------

TEXTS = [
    "0.0.0.0", "1.2.3.4", "255.255.255.255", "01.2.3.4", "256.1.1.1", "1.2.3", " 1.2.3.4", "\u0661.2.3.4",
    "::", "::1", "1::", "fe80::1", "2001:DB8::A", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::ffff:1.2.3.4",
    "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "0000:0000:0000:0000:0000:0000:255.255.255.255", "::ffff:\u0661.2.3.4",
    "", ":", ":::", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3", "::01.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4", "[::1]", " ::1", "::0x1", "fe80::1%eth0", "fe80::1%3", "::1%", "%eth0", "1.2.3.4%1",
    "fe80::1%" + "z" * 60, "::ffff:1.2.3.4%lo",
]


def _agree(t):
    assert addrconv.pton4(t) == inaddr.ip4(t)
    pct = t.find("%")
    if pct < 0:
        assert addrconv.pton6(t) == inaddr.ip6(t)
    else:  # inet_pton refuses a zone; the name service drops it (up to 64 characters in all)
        assert addrconv.pton6(t) is None
        assert inaddr.ip6(t) == (addrconv.pton6(t[:pct]) if len(t) <= 64 else None)
    for af, b in ((ws2.AF_INET, addrconv.pton4(t)), (ws2.AF_INET6, addrconv.pton6(t))):
        try:
            got = ws2.inet_pton(af, t)
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEINVAL and b is None
        else:
            assert got == b


def test_addrconv_parses_with_inaddr():
    assert addrconv.pton4 is inaddr.ip4 and addrconv.pton6 is inaddr.pton6 and addrconv.ntop4 is inaddr.ntop4


@pytest.mark.parametrize("t", TEXTS)
def test_both_entry_points_agree_on_samples(t):
    _agree(t)


@settings(max_examples=3000, deadline=None, database=None)
@given(st.text(alphabet="0123456789abcdefABCDEF:.%x ", max_size=50))
def test_both_entry_points_agree_on_fuzz(t):
    _agree(t)


# (packed as text, inaddr.ntop6: ipaddress's, addrconv.ntop6: glibc's). They differ only on IPv4 in IPv6.
NTOP6 = [
    ("::", "::", "::"),
    ("::1", "::1", "::1"),
    ("::ffff:1.2.3.4", "::ffff:102:304", "::ffff:1.2.3.4"),  # mapped
    ("::ffff:0.0.0.0", "::ffff:0:0", "::ffff:0.0.0.0"),
    ("::1.2.3.4", "::102:304", "::1.2.3.4"),  # compatible (deprecated)
    ("::0.2.0.0", "::2:0", "::0.2.0.0"),
    ("::0.0.0.2", "::2", "::2"),
    ("::1:ffff:102:304", "::1:ffff:102:304", "::1:ffff:102:304"),
    ("1::ffff:102:304", "1::ffff:102:304", "1::ffff:102:304"),
    ("::ffff:0:102:304", "::ffff:0:102:304", "::ffff:0:102:304"),
    ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),  # a single zero group stays
    ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4", "1::2:0:0:3:4"),  # a tie: the first run
    ("1:0:0:2:0:0:0:3", "1:0:0:2::3", "1:0:0:2::3"),  # the longest run
    ("2001:DB8::A", "2001:db8::a", "2001:db8::a"),
]


@pytest.mark.parametrize("text,ns,libc", NTOP6)
def test_ntop6_contracts(text, ns, libc):
    b = socket.inet_pton(socket.AF_INET6, text)
    assert inaddr.ntop6(b) == ns == ipaddress.IPv6Address(b).compressed
    assert addrconv.ntop6(b) == libc == socket.inet_ntop(socket.AF_INET6, b)
    assert ws2.inet_ntop(ws2.AF_INET6, memoryview(b)) == libc
    assert inaddr.ip6(ns) == inaddr.ip6(libc) == addrconv.pton6(ns) == addrconv.pton6(libc) == b


@settings(max_examples=3000, deadline=None, database=None)
@given(st.binary(min_size=16, max_size=16) | st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF]), min_size=8,
                                                         max_size=8).map(lambda w: b"".join(x.to_bytes(2, "big") for x in w)))
def test_ntop6_differs_only_on_ipv4_in_ipv6(b):
    ns, libc = inaddr.ntop6(b), addrconv.ntop6(b)
    v4 = b[:10] == bytes(10) and (b[10:12] == b"\xff\xff" or (b[10:12] == b"\0\0" and b[12:14] != b"\0\0"))
    assert (ns != libc) == v4
    if v4:
        assert libc == ns[: ns.rindex(":", 0, ns.rindex(":"))] + ":" + inaddr.ntop4(b[12:])
    assert inaddr.pton6(ns) == inaddr.pton6(libc) == b
