# providers/wspm/addrtext: address text, WSPAddressToString and WSPStringToAddress, and IPv6 text.
# MIT licence; part of ws2 for MicroPython.
#
# Pure: strings and bytes in, strings and tuples out. Imported by the core the first time
# an address needs IPv6 text (a v6 address converted or shown) or a text slot is called.
from ws2.inaddr import ip4 as _ip4, ntop4 as _fmt4, pton6 as ip6
from ws2.errors import WSAError, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL
from ws2.port import const

_AF_INET = const(2)
_AF_INET6 = const(23)

# -- address text <-> bytes (pure) ---------------------------------------------------------
# IPv6 text (no zone) is ws2.inaddr's parser (imported above); what is wspm's own is Windows'
# loose IPv4 forms (WSAStringToAddress), ports and zones in the text.


def _digits(t, base):
    # Value of the digits of t in base, or -1.
    if not t:
        return -1
    v = 0
    for ch in t:
        d = ord(ch)
        if 48 <= d <= 57:
            d -= 48
        elif 97 <= d <= 102:
            d -= 87
        elif 65 <= d <= 70:
            d -= 55
        else:
            return -1
        if d >= base:
            return -1
        v = v * base + d
    return v


def _ip4_loose(s):
    """4 bytes of IPv4 text as Windows' non-strict parser takes it (a, a.b, a.b.c, a.b.c.d; 0x hex, 0 octal), or None."""
    p = s.split(".")
    if len(p) > 4:
        return None
    vals = []
    for t in p:
        if len(t) > 2 and t[0] == "0" and t[1] in "xX":
            v = _digits(t[2:], 16)
        elif len(t) > 1 and t[0] == "0":
            v = _digits(t[1:], 8)
        else:
            v = _digits(t, 10)
        if v < 0:
            return None
        vals.append(v)
    last = vals.pop()
    n = 0
    for i in range(len(vals)):
        if vals[i] > 255:
            return None
        n |= vals[i] << (24 - 8 * i)
    if last >= 1 << (8 * (4 - len(vals))):
        return None
    return (n | last).to_bytes(4, "big")


def fmt6(b):
    """Text of 16 bytes of IPv6 address as glibc writes it (RFC 5952; ::ffff:a.b.c.d for mapped ones)."""
    from ws2.addrconv import ntop6  # loaded on the first IPv6 address shown, not with this module

    return ntop6(b)


def _port(t):
    v = _digits(t, 10) if len(t) <= 5 else -1
    return v if 0 <= v <= 65535 else None


def parse6(addr):
    """Check an IPv6 address tuple (zone '%n' allowed); return (16 bytes, host, port, flowinfo, scope_id)."""
    h, port = addr[0], addr[1]
    flow = scope = 0
    if len(addr) == 4:
        flow, scope = addr[2], addr[3]
        if type(flow) is not int or type(scope) is not int:
            raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    k = h.find("%")
    if k >= 0:
        scope = _digits(h[k + 1 :], 10)
        h = h[:k]
    if not 0 <= port <= 65535 or not 0 <= flow <= 0xFFFFF or not 0 <= scope <= 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "bad port, flowinfo or scope in %r" % (addr,))
    b = ip6(h) if h else bytes(16)
    if b is None:
        raise WSAError(WSAEAFNOSUPPORT if _ip4(h) else WSAEFAULT, "%r: not an IPv6 address" % (h,))
    return b, h, port, flow, scope


def _text4(text):
    i = text.find(":")
    port = 0
    if i >= 0:
        port = _port(text[i + 1 :])
        text = text[:i]
        if port is None:
            return None
    b = _ip4_loose(text)
    return None if b is None else (_fmt4(b), port)


def _text6(text):
    port = 0
    if text[:1] == "[":
        j = text.find("]")
        if j < 0:
            return None
        rest = text[j + 1 :]
        text = text[1:j]
        if rest:
            port = _port(rest[1:]) if rest[0] == ":" else None
            if port is None:
                return None
    scope = 0
    k = text.find("%")
    if k >= 0:
        scope = _digits(text[k + 1 :], 10)
        text = text[:k]
        if not 0 <= scope <= 0xFFFFFFFF:
            return None
    b = ip6(text)
    return None if b is None else (fmt6(b), port, 0, scope)


def WSPStringToAddress(text, af, info):
    """Parse '1.2.3.4[:port]' or '[v6[%scope]][:port]' text of family af (0: either) into an address tuple."""
    if type(text) is not str:
        raise WSAError(WSAEFAULT, "address text must be a str")
    if af not in (0, _AF_INET, _AF_INET6):
        raise WSAError(WSAEINVAL, "family %r" % (af,))
    r = _text4(text) if af != _AF_INET6 else None
    if r is None and af != _AF_INET:
        r = _text6(text)
    if r is None:
        raise WSAError(WSAEINVAL, "%r" % (text,))
    return r


def WSPAddressToString(addr, info):
    """Format an address tuple as 'a.b.c.d[:port]', 'v6[%scope]' or '[v6[%scope]]:port'."""
    if type(addr) is not tuple or len(addr) not in (2, 4) or type(addr[0]) is not str or type(addr[1]) is not int:
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    v6 = len(addr) == 4 or ":" in addr[0]
    fam = getattr(info, "address_family", 0)
    if fam in (_AF_INET, _AF_INET6) and (fam == _AF_INET6) != v6 or not addr[0]:
        raise WSAError(WSAEINVAL, "%r" % (addr,))
    if not v6:
        if _ip4(addr[0]) is None or not 0 <= addr[1] <= 65535:
            raise WSAError(WSAEINVAL, "%r" % (addr,))
        return "%s:%d" % addr if addr[1] else addr[0]
    if len(addr) == 4 and (type(addr[2]) is not int or type(addr[3]) is not int):
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    try:
        b, h, port, flow, scope = parse6(addr)
    except WSAError:
        raise WSAError(WSAEINVAL, "%r" % (addr,))  # a bad value, not a bad structure
    s = fmt6(b)
    if scope:
        s = "%s%%%d" % (s, scope)
    return "[%s]:%d" % (s, port) if port else s
