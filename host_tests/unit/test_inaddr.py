# ws2/inaddr against CPython's ipaddress module: parsing and RFC 5952 text.
# MIT licence; part of ws2 for MicroPython.
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ws2 import inaddr


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
                               "1_0.2.3.4", "a.b.c.d", "", "1..3.4"])
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
