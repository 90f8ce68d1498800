# providers/dnsmsg: the DNS message codec (RFC 1035) for nspm: pure functions, no I/O.
# MIT licence; part of ws2 for MicroPython.
#
# Peer bytes are hostile until proven otherwise: every read is bounds-checked,
# compression pointers must point strictly backwards (so a loop cannot exist),
# names are limited to 255 bytes, and any failure is a DNSError (a ValueError)
# that costs the caller one answer, never the interpreter.
import struct

from ws2.inaddr import ip4, ip6, ntop4, ntop6
from ws2.port import const

TYPE_A = const(1)
TYPE_CNAME = const(5)
TYPE_SOA = const(6)
TYPE_PTR = const(12)
TYPE_AAAA = const(28)
_CLASS_IN = const(1)
_FLAG_QR = const(0x8000)
_FLAG_TC = const(0x0200)
_FLAG_RD = const(0x0100)
_OPCODE_MASK = const(0x7800)
_MAX_NAME = const(255)
_MAX_RECORDS = const(32)  # answers kept per message: a board cannot hold thousands
_MAX_MESSAGE = const(65535)
RCODE_NOERROR = const(0)
RCODE_FORMERR = const(1)
RCODE_SERVFAIL = const(2)
RCODE_NXDOMAIN = const(3)


class DNSError(ValueError):
    """A DNS message or name that cannot be used."""


def encode_name(name):
    """Return the wire form of a host name (trailing dot optional); DNSError when it is not valid."""
    if not isinstance(name, str):
        raise DNSError("name must be a str")
    if name.endswith("."):
        name = name[:-1]
    out = bytearray()
    if name:
        for label in name.split("."):
            try:
                b = label.encode("ascii")
            except (UnicodeError, ValueError):
                raise DNSError("name %r is not ASCII (IDNA is not supported)" % name)
            if not 0 < len(b) < 64:
                raise DNSError("label %r must be 1 to 63 bytes" % label)
            out.append(len(b))
            out += b
    out.append(0)
    if len(out) > _MAX_NAME:
        raise DNSError("name longer than 255 bytes")
    return bytes(out)


def build_query(txid, name, qtype):
    """Return a recursive query for (name, qtype) with transaction id txid."""
    return struct.pack("!HHHHHH", txid & 0xFFFF, _FLAG_RD, 1, 0, 0, 0) + encode_name(name) + struct.pack(
        "!HH", qtype, _CLASS_IN)


def _name_char_ok(c):
    # printable ASCII other than '.' and '\\': anything else would change the
    # meaning of the dotted text handed to applications
    return 0x21 <= c <= 0x7E and c != 0x2E and c != 0x5C


def read_name(data, off):
    """Return (name, offset after it) for the name at off; DNSError when malformed."""
    n = len(data)
    labels = []
    total = 1
    end = -1  # where the caller continues: just after the first pointer or the final 0
    limit = off  # a pointer must land strictly before the segment it continues: no loops
    while True:
        if off >= n:
            raise DNSError("name runs past the end of the message")
        ln = data[off]
        if ln == 0:
            if end < 0:
                end = off + 1
            break
        kind = ln & 0xC0
        if kind == 0xC0:
            if off + 1 >= n:
                raise DNSError("compression pointer cut short")
            ptr = ((ln & 0x3F) << 8) | data[off + 1]
            if ptr >= limit:
                raise DNSError("compression pointer does not point backwards")
            if end < 0:
                end = off + 2
            limit = ptr
            off = ptr
            continue
        if kind:
            raise DNSError("label type 0x%02x is not supported" % kind)
        total += ln + 1
        if total > _MAX_NAME:
            raise DNSError("name longer than 255 bytes")
        if off + 1 + ln > n:
            raise DNSError("label runs past the end of the message")
        for i in range(off + 1, off + 1 + ln):
            if not _name_char_ok(data[i]):
                raise DNSError("name holds byte 0x%02x" % data[i])
        labels.append(str(bytes(data[off + 1 : off + 1 + ln]), "ascii"))
        off += 1 + ln
    return ".".join(labels), end


def _u16(data, off):
    if off + 2 > len(data):
        raise DNSError("message cut short")
    return (data[off] << 8) | data[off + 1]


def _u32(data, off):
    if off + 4 > len(data):
        raise DNSError("message cut short")
    return (data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]


def parse(data):
    """Parse a response: (txid, flags, qname, qtype, answers, negative_ttl); DNSError when malformed.

    answers holds up to 32 (name, type, ttl, value) for A/AAAA (address text)
    and CNAME/PTR (name); other types are skipped. negative_ttl is min(SOA TTL,
    SOA minimum) from the authority section (RFC 2308), or -1 without a SOA.
    A truncated (TC) message is returned with its question only (qname and
    qtype None when the server left the question out).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DNSError("message must be bytes")
    n = len(data)
    if n < 12:
        raise DNSError("message shorter than a header")
    if n > _MAX_MESSAGE:
        raise DNSError("message longer than 65535 bytes")
    txid = _u16(data, 0)
    flags = _u16(data, 2)
    qd = _u16(data, 4)
    an = _u16(data, 6)
    ns = _u16(data, 8)
    if not flags & _FLAG_QR:
        raise DNSError("not a response")
    if flags & _OPCODE_MASK:
        raise DNSError("not a standard query response")
    if qd == 0 and flags & _FLAG_TC:
        # some servers (dnslib among them) drop the question from a TC reply:
        # nothing in it is used but the id and the order to retry over TCP
        return txid, flags, None, None, [], -1
    if qd != 1:
        raise DNSError("response has %d questions, not 1" % qd)
    qname, off = read_name(data, 12)
    qtype = _u16(data, off)
    if _u16(data, off + 2) != _CLASS_IN:
        raise DNSError("question class is not IN")
    off += 4
    answers = []
    neg = -1
    if flags & _FLAG_TC:
        return txid, flags, qname, qtype, answers, neg
    # each record is at least 11 bytes: a count beyond that is a lie, found
    # without walking the message
    if (an + ns) * 11 > n - off:
        raise DNSError("record counts exceed the message size")
    for i in range(an + ns):
        name, off = read_name(data, off)
        rtype = _u16(data, off)
        rclass = _u16(data, off + 2)
        ttl = _u32(data, off + 4)
        rdlen = _u16(data, off + 8)
        off += 10
        rend = off + rdlen
        if rend > n:
            raise DNSError("record data runs past the end of the message")
        if ttl & 0x80000000:
            ttl = 0  # RFC 2181 8: a TTL with the top bit set is 0
        if rclass != _CLASS_IN:
            off = rend
            continue
        if i < an:
            value = None
            if rtype == TYPE_A:
                if rdlen != 4:
                    raise DNSError("A record of %d bytes" % rdlen)
                value = ntop4(data[off:rend])
            elif rtype == TYPE_AAAA:
                if rdlen != 16:
                    raise DNSError("AAAA record of %d bytes" % rdlen)
                value = ntop6(data[off:rend])
            elif rtype == TYPE_CNAME or rtype == TYPE_PTR:
                value, e = read_name(data, off)
                if e > rend:
                    raise DNSError("name runs past its record")
            if value is not None and len(answers) < _MAX_RECORDS:
                answers.append((name, rtype, ttl, value))
        elif rtype == TYPE_SOA:
            _, e = read_name(data, off)
            _, e = read_name(data, e)
            if e + 20 != rend:
                raise DNSError("SOA record of the wrong size")
            m = _u32(data, e + 16)
            neg = ttl if ttl < m else m
        off = rend
    return txid, flags, qname, qtype, answers, neg


def rcode(flags):
    """Return the response code held in flags."""
    return flags & 0xF


def truncated(flags):
    """Return True when flags has TC (the answer did not fit a UDP datagram)."""
    return bool(flags & _FLAG_TC)


def reverse_name(addr):
    """Return the in-addr.arpa / ip6.arpa name of a numeric address text, or None."""
    b = ip4(addr)
    if b is not None:
        return "%d.%d.%d.%d.in-addr.arpa" % (b[3], b[2], b[1], b[0])
    b = ip6(addr)
    if b is None:
        return None
    out = []
    for i in range(15, -1, -1):
        out.append("%x.%x" % (b[i] & 0xF, b[i] >> 4))
    return ".".join(out) + ".ip6.arpa"
