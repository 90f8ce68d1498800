# ws2/addrconv: byte order (htons ...), inet_pton/inet_ntop, and WSAStringToAddress /
# WSAAddressToString routed to a transport provider. MIT licence; part of ws2 for MicroPython.
#
# inet_pton/inet_ntop are pure Python: esp32 and rp2 have no socket.inet_pton,
# and every port must agree byte for byte (the text forms are glibc's, which
# CPython and the unix port use: RFC 5952 compression, ::ffff:a.b.c.d).
import sys

from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_AF_INET = const(2)
_AF_INET6 = const(23)
_WSP_ADDRESSTOSTRING = const(1)
_WSP_STRINGTOADDRESS = const(29)
_LITTLE = sys.byteorder == "little"  # every supported chip is, but say what the swap depends on


# -- byte order ----------------------------------------------------------------------

def _uint(x, top, what):
    # In C the value is truncated to a u_short/u_long; here a value that does
    # not fit is a caller's bug, reported rather than silently cut.
    if not isinstance(x, int) or isinstance(x, bool):
        raise fail(WSAError(WSAEINVAL, "%s needs an int, not %r" % (what, x)))
    if not 0 <= x <= top:
        raise fail(WSAError(WSAEINVAL, "%s: %d does not fit in %d bits" % (what, x, 16 if top == 0xFFFF else 32)))
    return x


def htons(x):
    """Convert a 16-bit value from host to network byte order."""
    _uint(x, 0xFFFF, "htons")
    return ((x & 0xFF) << 8) | (x >> 8) if _LITTLE else x


def ntohs(x):
    """Convert a 16-bit value from network to host byte order."""
    _uint(x, 0xFFFF, "ntohs")
    return ((x & 0xFF) << 8) | (x >> 8) if _LITTLE else x


def _swap32(x):
    return ((x & 0xFF) << 24) | ((x & 0xFF00) << 8) | ((x >> 8) & 0xFF00) | (x >> 24)


def htonl(x):
    """Convert a 32-bit value from host to network byte order."""
    _uint(x, 0xFFFFFFFF, "htonl")
    return _swap32(x) if _LITTLE else x


def ntohl(x):
    """Convert a 32-bit value from network to host byte order."""
    _uint(x, 0xFFFFFFFF, "ntohl")
    return _swap32(x) if _LITTLE else x


# -- text <-> bytes (pure functions; None means "not an address") ---------------------

def pton4(s):
    """Return the 4 bytes of dotted-decimal IPv4 text, or None (no leading zeros, as glibc)."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not 1 <= len(p) <= 3 or (len(p) > 1 and p[0] == "0"):
            return None
        v = 0
        for c in p:
            d = ord(c) - 48
            if not 0 <= d <= 9:
                return None
            v = v * 10 + d
        if v > 255:
            return None
        out[i] = v
    return bytes(out)


def _hex(p):
    if not 1 <= len(p) <= 4:
        return -1
    v = 0
    for c in p:
        o = ord(c)
        if 48 <= o <= 57:
            o -= 48
        elif 97 <= o <= 102:
            o -= 87
        elif 65 <= o <= 70:
            o -= 55
        else:
            return -1
        v = (v << 4) | o
    return v


def pton6(s):
    """Return the 16 bytes of IPv6 text (with :: and a trailing dotted IPv4), or None."""
    if len(s) > 45:  # the longest form, ffff:...:ffff:255.255.255.255
        return None
    tail = None
    k = s.rfind(":")
    if "." in s:  # embedded IPv4: only as the last 32 bits
        if k < 0:
            return None
        tail = pton4(s[k + 1:])
        if tail is None:
            return None
        s = s[:k + 1] + "0:0"  # stands for the two groups the IPv4 part fills
    halves = s.split("::")
    if len(halves) > 2:
        return None
    words = []
    for h in halves:
        g = []
        if h:
            for p in h.split(":"):
                v = _hex(p)
                if v < 0:
                    return None
                g.append(v)
        words.append(g)
    if len(halves) == 2:
        n = len(words[0]) + len(words[1])
        if n > 7:
            return None
        w = words[0] + [0] * (8 - n) + words[1]
    else:
        w = words[0]
        if len(w) != 8:
            return None
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = w[i] >> 8
        out[2 * i + 1] = w[i] & 0xFF
    if tail is not None:
        out[12:16] = tail
    return bytes(out)


def ntop4(b):
    """Return the dotted-decimal text of 4 bytes."""
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def ntop6(b):
    """Return the text of 16 bytes: lower case, longest run of 2+ zero groups as '::'."""
    w = [(b[2 * i] << 8) | b[2 * i + 1] for i in range(8)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if w[i]:
            i += 1
            continue
        j = i
        while j < 8 and not w[j]:
            j += 1
        if j - i > best_len:
            best, best_len = i, j - i
        i = j
    # An IPv4 address in the last 32 bits after ::ffff: (mapped) or after six
    # zero groups (compatible, but not :: and ::1) is written dotted, as glibc does.
    v4 = best == 0 and (best_len == 6 or (best_len == 5 and w[5] == 0xFFFF))
    last = 6 if v4 else 8
    if best < 0:
        text = ":".join("%x" % x for x in w[:last])
    else:
        text = ":".join("%x" % x for x in w[:best]) + "::" + ":".join("%x" % x for x in w[best + best_len:last])
    if v4:
        if not text.endswith(":"):
            text += ":"
        text += ntop4(b[12:])
    return text


def inet_pton(af, text):
    """Convert address text of family af (AF_INET or AF_INET6) to its packed bytes."""
    if not isinstance(af, int) or isinstance(af, bool):
        raise fail(WSAError(WSAEINVAL, "af must be an int, not %r" % (af,)))
    if af != _AF_INET and af != _AF_INET6:
        raise fail(WSAError(WSAEAFNOSUPPORT, "inet_pton handles AF_INET and AF_INET6, not %d" % af))
    if not isinstance(text, str):
        raise fail(WSAError(WSAEFAULT, "address text must be a str, not %r" % (text,)))
    b = pton4(text) if af == _AF_INET else pton6(text)
    if b is None:
        raise fail(WSAError(WSAEINVAL, "%r is not an %s address" % (text, "IPv4" if af == _AF_INET else "IPv6")))
    return b


def inet_ntop(af, packed):
    """Convert packed address bytes of family af to text."""
    if not isinstance(af, int) or isinstance(af, bool):
        raise fail(WSAError(WSAEINVAL, "af must be an int, not %r" % (af,)))
    if af != _AF_INET and af != _AF_INET6:
        raise fail(WSAError(WSAEAFNOSUPPORT, "inet_ntop handles AF_INET and AF_INET6, not %d" % af))
    if not isinstance(packed, (bytes, bytearray, memoryview)):
        raise fail(WSAError(WSAEFAULT, "packed address must be bytes-like, not %r" % (packed,)))
    n = 4 if af == _AF_INET else 16
    if len(packed) != n:
        raise fail(WSAError(WSAEINVAL, "a packed %s address has %d bytes, not %d"
                            % ("IPv4" if af == _AF_INET else "IPv6", n, len(packed))))
    return ntop4(packed) if n == 4 else ntop6(packed)


# -- WSAStringToAddress / WSAAddressToString: the provider of the family does it ----------

def _entry(af, protocol_info):
    # As ReactOS's rnr.c: the entry named by protocol_info, else the first
    # catalog entry of the family; no socket is involved.
    from ws2 import catalog
    from ws2.protocol_info import WSAProtocolInfo

    if protocol_info is not None:
        if not isinstance(protocol_info, WSAProtocolInfo):
            raise WSAError(WSAEFAULT, "protocol_info must be a WSAProtocolInfo")
        e = catalog.by_id(protocol_info.catalog_entry_id)
        if e is None:
            raise WSAError(WSAEINVAL, "protocol_info names catalog entry %r, which is not installed"
                           % (protocol_info.catalog_entry_id,))
        return e, protocol_info
    e = catalog.by_af(af)
    if e is None:
        raise WSAError(WSAEINVAL, "no transport provider handles address family %d" % af)
    from ws2.protocol_info import from_tuple

    return e, from_tuple(e)


def WSAStringToAddress(text, af, protocol_info=None):
    """Parse address text (e.g. '10.0.0.5:80', '[::1]:80') of family af into an address tuple."""
    prolog()
    try:
        if not isinstance(text, str):
            raise WSAError(WSAEFAULT, "address text must be a str, not %r" % (text,))
        if not isinstance(af, int) or isinstance(af, bool):
            raise WSAError(WSAEINVAL, "af must be an int, not %r" % (af,))
        from ws2 import provider

        e, info = _entry(af, protocol_info)
        return provider.for_entry(e).table[_WSP_STRINGTOADDRESS](text, af, info)
    except Exception as x:
        raise fail(x)


def WSAAddressToString(addr, protocol_info=None):
    """Format an address tuple as text ('10.0.0.5:80', '[::1]:80'; no ':port' when the port is 0)."""
    prolog()
    try:
        if not isinstance(addr, tuple) or len(addr) not in (2, 4):
            raise WSAError(WSAEFAULT, "addr must be (host, port) or (host, port, flowinfo, scope_id), not %r"
                           % (addr,))
        # The tuple stands for a sockaddr: four fields or a ':' in the host say IPv6.
        af = _AF_INET6 if len(addr) == 4 or (isinstance(addr[0], str) and ":" in addr[0]) else _AF_INET
        from ws2 import provider

        e, info = _entry(af, protocol_info)
        return provider.for_entry(e).table[_WSP_ADDRESSTOSTRING](addr, info)
    except Exception as x:
        raise fail(x)
