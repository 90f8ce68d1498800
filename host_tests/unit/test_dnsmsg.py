# providers/dnsmsg byte by byte: against dnslib, with hostile input, and under hypothesis.
# MIT licence; part of ws2 for MicroPython.
import struct
import time

import pytest
from dnslib import AAAA, CNAME, PTR, QTYPE, RCODE, RR, SOA, A, DNSHeader, DNSQuestion, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import dnsmsg
from providers.dnsmsg import DNSError

FUZZ = {"packets": 0, "parsed": 0, "seconds": 0.0}


def reply(name="a.example", qtype="A", rcode=0, answers=(), auth=(), tc=False, rid=0x1234):
    r = DNSRecord(DNSHeader(id=rid, qr=1, aa=1, ra=1, rcode=rcode, tc=int(tc)), q=DNSQuestion(name, getattr(QTYPE, qtype)))
    for a in answers:
        r.add_answer(a)
    for a in auth:
        r.add_auth(a)
    return r.pack()


def test_query_is_what_dnslib_reads():
    q = DNSRecord.parse(dnsmsg.build_query(0xBEEF, "Www.Example.com.", dnsmsg.TYPE_AAAA))
    assert q.header.id == 0xBEEF and q.header.rd == 1 and q.header.qr == 0
    assert str(q.q.qname) == "Www.Example.com." and q.q.qtype == QTYPE.AAAA
    assert len(q.questions) == 1 and not q.rr


@pytest.mark.parametrize("name", ["", ".", "a..b", "x" * 64 + ".com", ".".join(["abcdefgh"] * 32), "caf\u00e9.fr", 5])
def test_bad_names_are_refused(name):
    if name in ("", "."):
        assert dnsmsg.encode_name(name) == b"\x00"  # the root
        return
    with pytest.raises(DNSError):
        dnsmsg.encode_name(name)


def test_longest_name_is_accepted():
    name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters, 255 bytes on the wire
    assert len(dnsmsg.encode_name(name)) == 255


def test_parse_answers_of_every_type():
    data = reply(answers=[RR("a.example", QTYPE.CNAME, rdata=CNAME("b.example"), ttl=30),
                          RR("b.example", QTYPE.A, rdata=A("192.0.2.1"), ttl=60),
                          RR("b.example", QTYPE.AAAA, rdata=AAAA("2001:db8::1"), ttl=70),
                          RR("1.2.0.192.in-addr.arpa", QTYPE.PTR, rdata=PTR("b.example"), ttl=80)])
    txid, flags, qname, qtype, answers, neg = dnsmsg.parse(data)
    assert (txid, qname, qtype, neg) == (0x1234, "a.example", 1, -1)
    assert dnsmsg.rcode(flags) == 0 and not dnsmsg.truncated(flags)
    assert answers == [("a.example", 5, 30, "b.example"), ("b.example", 1, 60, "192.0.2.1"),
                       ("b.example", 28, 70, "2001:db8::1"), ("1.2.0.192.in-addr.arpa", 12, 80, "b.example")]


def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum():
    soa = SOA("ns.example", "admin.example", (1, 3600, 600, 86400, 60))
    data = reply(rcode=RCODE.NXDOMAIN, auth=[RR("example", QTYPE.SOA, rdata=soa, ttl=300)])
    _, flags, _, _, answers, neg = dnsmsg.parse(data)
    assert dnsmsg.rcode(flags) == dnsmsg.RCODE_NXDOMAIN and answers == [] and neg == 60
    data = reply(rcode=RCODE.NXDOMAIN, auth=[RR("example", QTYPE.SOA, rdata=soa, ttl=20)])
    assert dnsmsg.parse(data)[5] == 20


def test_truncated_reply_with_and_without_question():
    full = DNSRecord.parse(reply(tc=True))
    got = dnsmsg.parse(full.pack())
    assert dnsmsg.truncated(got[1]) and got[2] == "a.example"
    bare = full.truncate().pack()  # dnslib drops the question
    got = dnsmsg.parse(bare)
    assert dnsmsg.truncated(got[1]) and got[2] is None and got[4] == []


def test_top_bit_ttl_is_zero():
    data = bytearray(reply(answers=[RR("a.example", QTYPE.A, rdata=A("192.0.2.1"), ttl=5)]))
    i = data.rindex(bytes([0, 1, 0, 1])) + 4  # type A class IN, then the TTL
    data[i] = 0x80
    assert dnsmsg.parse(bytes(data))[4][0][2] == 0


def test_answers_are_capped():
    data = reply(answers=[RR("a.example", QTYPE.A, rdata=A("10.0.%d.%d" % (i >> 8, i & 255))) for i in range(200)])
    assert len(dnsmsg.parse(data)[4]) == 32


HDR = struct.pack("!HHHHHH", 1, 0x8180, 1, 1, 0, 0)
Q = b"\x01a\x00\x00\x01\x00\x01"


@pytest.mark.parametrize("data,why", [
    (b"", "empty"),
    (HDR[:11], "short header"),
    (struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + Q, "a query, not a response"),
    (struct.pack("!HHHHHH", 1, 0x8980, 1, 0, 0, 0) + Q, "opcode not QUERY"),
    (struct.pack("!HHHHHH", 1, 0x8180, 2, 0, 0, 0) + Q + Q, "two questions"),
    (struct.pack("!HHHHHH", 1, 0x8180, 0, 0, 0, 0), "no question"),
    (HDR + b"\x01a", "name cut short"),
    (HDR + b"\x05a", "label past the end"),
    (HDR + b"\xc0\x0c\x00\x01\x00\x01", "pointer to itself"),
    (HDR + b"\x01a\xc0\x0c\x00\x01\x00\x01", "pointer loop back to the start"),
    (HDR + b"\xc0\x20" + b"\x00" * 40, "pointer forwards"),
    (HDR + b"\xc0", "pointer cut short"),
    (HDR + b"\x40a\x00\x00\x01\x00\x01", "extended label type"),
    (HDR + b"\x80a\x00\x00\x01\x00\x01", "reserved label type"),
    (HDR + b"\x01.\x00\x00\x01\x00\x01", "a dot inside a label"),
    (HDR + b"\x01\x00\x00\x00\x01\x00\x01", "NUL inside a label"),
    (HDR + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01", "name over 255 bytes"),
    (HDR + Q[:-1], "question class cut"),
    (HDR + b"\x01a\x00\x00\x01\x00\x03", "class CHAOS"),
    (HDR + Q, "answer count 1 but no answer"),
    (struct.pack("!HHHHHH", 1, 0x8180, 1, 65535, 65535, 0) + Q + b"\x00" * 30, "counts beyond the size"),
    (HDR + Q + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x05\x01\x02\x03\x04\x05", "A of 5 bytes"),
    (HDR + Q + b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x05\x00\x04\x01\x02\x03\x04", "AAAA of 4 bytes"),
    (HDR + Q + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x09\x01\x02\x03\x04", "rdata past the end"),
    (HDR + Q + b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x05\x00\x02\xc0\x1f", "CNAME pointing at itself"),
    (HDR + Q + b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x05\x00\x01\x01a\x00", "CNAME longer than its rdata"),
    (b"\x00" * 70000, "over 65535 bytes"),
    ("text", "not bytes"),
])
def test_hostile_messages_fail_cleanly(data, why):
    with pytest.raises(DNSError):
        dnsmsg.parse(data)


def test_every_truncation_of_a_real_answer_fails_cleanly():
    data = reply(answers=[RR("a.example", QTYPE.CNAME, rdata=CNAME("b.example")),
                          RR("b.example", QTYPE.A, rdata=A("192.0.2.1"))],
                 auth=[RR("example", QTYPE.SOA, rdata=SOA("ns.example", "admin.example", (1, 2, 3, 4, 5)))])
    dnsmsg.parse(data)
    for n in range(len(data)):
        with pytest.raises(DNSError):
            dnsmsg.parse(data[:n])


def test_reverse_names():
    assert dnsmsg.reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa"
    assert dnsmsg.reverse_name("2001:db8::1") == "1.0.0.0." + "0." * 20 + "8.b.d.0.1.0.0.2.ip6.arpa"
    assert dnsmsg.reverse_name("host.example") is None


# -- the fuzzer: at least 100,000 generated packets, only DNSError allowed -----------

def _survive(packets):
    t = time.perf_counter()
    for p in packets:
        try:
            dnsmsg.parse(p)
            FUZZ["parsed"] += 1
        except DNSError:
            pass
    FUZZ["packets"] += len(packets)
    FUZZ["seconds"] += time.perf_counter() - t


SEEDS = [
    reply(answers=[RR("a.example", QTYPE.CNAME, rdata=CNAME("b.example")), RR("b.example", QTYPE.A, rdata=A("192.0.2.1"))]),
    reply(qtype="AAAA", answers=[RR("a.example", QTYPE.AAAA, rdata=AAAA("2001:db8::1"))]),
    reply(rcode=RCODE.NXDOMAIN, auth=[RR("example", QTYPE.SOA, rdata=SOA("ns.example", "h.example", (1, 2, 3, 4, 5)))]),
    reply(qtype="PTR", name="1.2.0.192.in-addr.arpa",
          answers=[RR("1.2.0.192.in-addr.arpa", QTYPE.PTR, rdata=PTR("a.example"))]),
]
FUZZ_SETTINGS = settings(max_examples=5000, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
# Each strategy is one binary draw decoded by the test (cheap for hypothesis),
# biased towards what gets past the first checks: QR set, opcode 0, one question.
packets10 = st.lists(st.binary(min_size=12, max_size=400), min_size=10, max_size=10)


def _header(raw):
    i, f, qd, an, ns, ar = struct.unpack("!HHHHHH", raw[:12])
    if not f & 0x8000:  # one in two: a plausible response header
        f = 0x8000 | (f & 0x07FF)
        qd = 1
        an &= 7
        ns &= 3
    return struct.pack("!HHHHHH", i, f | 0x8000, qd, an, ns, ar)


def _mutate(seed, script):
    b = bytearray(seed)
    for k in range(0, len(script) - 2, 3):
        kind, pos, val = script[k] % 5, script[k + 1] * 2, script[k + 2]
        pos %= len(b) + 1
        if kind == 0 and pos < len(b):
            b[pos] = val
        elif kind == 1:
            b.insert(pos, val)
        elif kind == 2 and pos < len(b):
            del b[pos]
        elif kind == 3:
            b[pos:pos] = bytes((0xC0 | (val & 0x3F), val))  # a compression pointer anywhere
        else:
            del b[pos:]
    return bytes(b)


TOKENS = [b"\x01a", b"\x3f" + b"z" * 63, b"\x00", b"\xc0\x0c", b"\xc0\x00", b"\xc0\x11", b"\x00\x01\x00\x01",
          b"\x00\x05\x00\x01\x00\x00\x00\x10\x00\x02", b"\x00\x01\x00\x01\x00\x00\x00\x10\x00\x04",
          b"\x00\x06\x00\x01\x00\x00\x00\x10\x00\x16", b"\x00\x1c\x00\x01\x00\x00\x00\x10\x00\x10",
          b"\x01\x02\x03\x04", b"\x07example\x03com\x00"]


@FUZZ_SETTINGS
@given(st.lists(st.binary(max_size=600), min_size=10, max_size=10))
def test_fuzz_random_bytes(packets):
    _survive(packets)


@FUZZ_SETTINGS
@given(packets10)
def test_fuzz_valid_header_random_body(raws):
    _survive([_header(r) + r[12:] for r in raws])


@FUZZ_SETTINGS
@given(packets10)
def test_fuzz_mutated_real_answers(raws):
    _survive([_mutate(SEEDS[r[0] % len(SEEDS)], r[2 : 5 + 3 * (r[1] % 3)]) for r in raws])


@FUZZ_SETTINGS
@given(packets10)
def test_fuzz_structured_names_and_pointers(raws):
    _survive([_header(r) + b"".join(TOKENS[c % len(TOKENS)] for c in r[12:60]) for r in raws])


def test_fuzz_total():
    # four fuzz tests x 5,000 examples x 10 packets
    assert FUZZ["packets"] >= 200000, FUZZ
    print("dnsmsg fuzz: %d packets (%d parsed whole), %.1f s inside the parser"
          % (FUZZ["packets"], FUZZ["parsed"], FUZZ["seconds"]))
