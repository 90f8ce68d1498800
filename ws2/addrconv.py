# ws2/addrconv: byte order (htons ...), inet_pton/inet_ntop, and WSAStringToAddress /
# WSAAddressToString routed to a transport provider. MIT licence; part of ws2 for MicroPython.
#
# inet_pton/inet_ntop are pure Python: esp32 and rp2 have no socket.inet_pton,
# and every port must agree byte for byte (the text forms are glibc's, which
# CPython and the unix port use: RFC 5952 compression, ::ffff:a.b.c.d). The
# parsing and formatting are ws2/inaddr's, shared with the name service.
import sys

from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL, shown
from ws2.inaddr import ip4 as pton4, ntop4, ntop6 as _ntop6, pton6  # noqa: F401 (pton4, pton6: public)

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
        raise fail(WSAError(WSAEINVAL, "%s needs an int, not %s" % (what, shown(x))))
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


# -- text <-> bytes: ws2/inaddr's, with inet_pton's contract -------------------------------
# pton4, pton6 and ntop4 are inaddr's (pton6 refuses the '%zone' that inaddr.ip6
# drops); ntop6 adds glibc's dotted tail for IPv4 in IPv6. See ws2/inaddr.

def ntop6(b):
    """Return the text of 16 bytes as glibc's inet_ntop writes it (RFC 5952, ::ffff:a.b.c.d)."""
    h = bytes(b[:12])
    if h == b"\0\0\0\0\0\0\0\0\0\0\xff\xff":  # IPv4-mapped
        return "::ffff:" + ntop4(b[12:])
    if h == bytes(12) and (b[12] or b[13]):  # IPv4-compatible; :: and ::1 stay as they are
        return "::" + ntop4(b[12:])
    return _ntop6(b)


def inet_pton(af, text):
    """Convert address text of family af (AF_INET or AF_INET6) to its packed bytes."""
    if not isinstance(af, int) or isinstance(af, bool):
        raise fail(WSAError(WSAEINVAL, "af must be an int, not %s" % shown(af)))
    if af != _AF_INET and af != _AF_INET6:
        raise fail(WSAError(WSAEAFNOSUPPORT, "inet_pton handles AF_INET and AF_INET6, not %d" % af))
    if not isinstance(text, str):
        raise fail(WSAError(WSAEFAULT, "address text must be a str, not %s" % shown(text)))
    b = pton4(text) if af == _AF_INET else pton6(text)
    if b is None:
        raise fail(WSAError(WSAEINVAL, "%r is not an %s address" % (text, "IPv4" if af == _AF_INET else "IPv6")))
    return b


def inet_ntop(af, packed):
    """Convert packed address bytes of family af to text."""
    if not isinstance(af, int) or isinstance(af, bool):
        raise fail(WSAError(WSAEINVAL, "af must be an int, not %s" % shown(af)))
    if af != _AF_INET and af != _AF_INET6:
        raise fail(WSAError(WSAEAFNOSUPPORT, "inet_ntop handles AF_INET and AF_INET6, not %d" % af))
    if not isinstance(packed, (bytes, bytearray, memoryview)):
        raise fail(WSAError(WSAEFAULT, "packed address must be bytes-like, not %s" % shown(packed)))
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
