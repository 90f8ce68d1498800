# providers/wspm: the base TCP/UDP transport provider over MicroPython's (lwIP) socket module.
# MIT licence; part of ws2 for MicroPython. Named after Windows CE's wspm.dll.
#
# Non-IFS, as on CE: each socket's context is a _Sock holding the native
# socket and what the native layer cannot tell us, and the router handle comes
# from WPUCreateSocketHandle. Runs on esp32, rp2, unix MicroPython and CPython.
#
# What no port's socket has (getsockname, getpeername, getsockopt, shutdown,
# recv_into on MicroPython) is emulated from state kept here; what only some
# ports have is decided by the capability flags below, in one place:
#   _KERNEL   unix MicroPython and CPython sit on a host kernel: MSG_OOB,
#             SO_KEEPALIVE, SO_LINGER, multicast TTL/LOOP/IF are real there.
#             On lwIP ports those options are kept here and reported back
#             (never handed to lwIP, which would print "not implemented").
#   shutdown  only CPython has it. On MicroPython SD_SEND/SD_RECEIVE are
#             state (later calls fail WSAESHUTDOWN; the peer sees no FIN,
#             lwIP cannot send one without closing); once both directions
#             are shut the native socket is closed, so the peer sees the FIN.
#   names     MicroPython cannot ask for the local address: bind() records
#             it, and bind to port 0 picks a free ephemeral port here so the
#             port is known; after an implicit bind (connect, sendto) the
#             local address reads as the wildcard with port 0.
# errno -> WSA goes through ws2.errors' one table.
import socket as _so
import sys

from ws2.errors import (WSAError, WSAEACCES, WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT,
                        WSAEALREADY, WSAECONNREFUSED, WSAECONNRESET, WSAEDESTADDRREQ, WSAEFAULT,
                        WSAEINVAL, WSAEISCONN, WSAEMSGSIZE, WSAENOPROTOOPT, WSAENOTCONN, WSAENOTSOCK,
                        WSAEOPNOTSUPP, WSAEPROTONOSUPPORT, WSAESHUTDOWN, WSAESOCKTNOSUPPORT,
                        WSAETIMEDOUT, WSAEWOULDBLOCK, WSANOTINITIALISED, WSASYSCALLFAILURE,
                        WSATRY_AGAIN, WSAVERNOTSUPPORTED, wsa_code)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_IP = const(0)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_IPPROTO_IPV6 = const(41)
_FROM_PROTOCOL_INFO = const(-1)
_WSA_FLAGS_OK = const(0xC1)  # OVERLAPPED, ACCESS_SYSTEM_SECURITY, NO_HANDLE_INHERIT: no multipoint
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_MSG_DONTROUTE = const(0x4)
_MSG_WAITALL = const(0x8)
_MSG_DONTWAIT = const(0x40)
_MSG_PARTIAL = const(0x8000)
_RECV_FLAGS = const(0x804B)  # OOB PEEK WAITALL DONTWAIT PARTIAL
_SEND_FLAGS = const(0x8045)  # OOB DONTROUTE DONTWAIT PARTIAL
_CF_ACCEPT = const(0)
_CF_REJECT = const(1)
_CF_DEFER = const(2)
_SD_BOTH = const(2)
_SOL_SOCKET = const(0xFFFF)
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_SIOCATMARK = const(0x40047307)

# _Sock.state bits
_V6 = const(0x1)
_DGRAM = const(0x2)
_BOUND = const(0x4)
_LISTENING = const(0x8)
_CONNECTED = const(0x10)
_CONNECTING = const(0x20)  # a non-blocking connect is under way
_SHUT_RD = const(0x40)
_SHUT_WR = const(0x80)
_NONBLOCK = const(0x100)
_CLOSED = const(0x200)
_DEAD = const(0x400)  # the native socket is closed (both directions shut on MicroPython)
_O_REUSE = const(0x800)
_O_KEEPALIVE = const(0x1000)
_O_BROADCAST = const(0x2000)
_O_NODELAY = const(0x4000)
_O_NOMLOOP = const(0x8000)  # IP_MULTICAST_LOOP off (Winsock's default is on)
_INHERIT = const(0xF901)  # what an accepted socket takes from its listener: V6, NONBLOCK, options

# option ids (internal), from (level, name) by _opt(); 1..10 may have a native equivalent
_K_REUSE = const(1)
_K_KEEPALIVE = const(2)
_K_BROADCAST = const(3)
_K_LINGER = const(4)
_K_NODELAY = const(5)
_K_MIF = const(6)
_K_MTTL = const(7)
_K_MLOOP = const(8)
_K_ADD = const(9)  # 9 and 10 cannot be read
_K_DROP = const(10)
_K_DONTLINGER = const(11)
_K_RCVTIMEO = const(12)
_K_SNDTIMEO = const(13)
_K_RCVBUF = const(14)
_K_SNDBUF = const(15)
_K_ERROR = const(16)  # 16 and up cannot be set
_K_TYPE = const(17)
_K_PINFO = const(18)
_K_ACCEPTCONN = const(19)
_K_MAXMSG = const(20)
# option ids 1..10: the port's name, and the number for when the unix port
# does not export the name (Linux, BSD/macOS), which it passes to the kernel anyway
_NAT_NAME = ("SO_REUSEADDR", "SO_KEEPALIVE", "SO_BROADCAST", "SO_LINGER", "TCP_NODELAY", "IP_MULTICAST_IF",
             "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP", "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP")
_NAT_LINUX = b"\x02\x09\x06\x0d\x01\x20\x21\x22\x23\x24"
_NAT_BSD = b"\x04\x08\x20\x80\x01\x09\x0a\x0b\x0c\x0d"

# address facts cached with a converted address
_A_ANY = const(1)  # the unspecified address
_A_PORT0 = const(2)
_A_BCAST = const(4)  # 255.255.255.255

_VERSION = const(0x0202)
_MAX_DGRAM4 = const(65507)  # 65535 - IPv4 header - UDP header
_MAX_DGRAM6 = const(65527)
_PEEK_CAP = const(1500)  # FIONREAD on MicroPython peeks at most this much
_MAX_BACKLOG = const(16)
_EPH_LOW = const(49152)
_EPH_TRIES = const(32)
_DEFAULT_BUF = const(8192)  # SO_RCVBUF/SO_SNDBUF report (CE's default); kept, not applied

_MICROPYTHON = sys.implementation.name == "micropython"
_RAW_SOCKADDR = _MICROPYTHON and hasattr(_so, "sockaddr")  # unix port: raw struct sockaddr bytes
_KERNEL = not _MICROPYTHON or _RAW_SOCKADDR
_DARWIN = sys.platform == "darwin"
_IPV6 = hasattr(_so, "AF_INET6") and sys.platform != "esp32"  # esp32's socket formats only IPv4
_SHUTDOWN = hasattr(_so.socket, "shutdown")
_RECV_INTO = hasattr(_so.socket, "recv_into")
_NATIVE_PEEK = getattr(_so, "MSG_PEEK", 0)
_NATIVE_OOB = getattr(_so, "MSG_OOB", 1) if _KERNEL else 0  # 1 on Linux and BSD; lwIP has no urgent data
# recv(n) allocates n bytes up front, so n is capped: 16 KB is above any lwIP
# TCP window or datagram reassembly limit, and a board heap can still find it.
_RECV_CAP = 16384 if _MICROPYTHON else 65536
_ANY4 = ("0.0.0.0", 0)
_ANY6 = ("::", 0, 0, 0)

_upcalls = None
_starts = 0
_acache = None  # (addr, v6 bit, native address, _A_* facts): the last address converted
_dcache = None  # (raw sockaddr, address tuple): the last raw address decoded (unix port)
_tmpl = [None, None]  # raw sockaddr templates (v4, v6) on the unix port
_eph = 0  # the last ephemeral port picked for a bind to port 0


class _Sock:
    """Provider context of one socket; rarely set fields are class defaults and cost no RAM."""

    rcvtimeo = 0  # SO_RCVTIMEO in ms (0 = wait forever)
    sndtimeo = 0  # SO_SNDTIMEO in ms, also bounds connect (as on Linux)
    mode = 0  # native timeout in force: 0 forever, -1 non-blocking, else ms
    error = 0  # SO_ERROR
    local = None  # address bound (what getsockname reports on MicroPython)
    peer = None  # address connected to (or being connected to)
    extra = None  # dict of rare state: linger, ttl, mif, rcvbuf, sndbuf, groups, defer

    def __init__(self, sk, state, catalog_id):
        self.sk = sk
        self.state = state
        self.catalog_id = catalog_id
        self.handle = 0


# -- address text <-> bytes (pure) ---------------------------------------------------------

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


def _ip4(s):
    """4 bytes of strict dotted-decimal text (no leading zeros, as inet_pton), or None."""
    p = s.split(".")
    if len(p) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        t = p[i]
        if len(t) > 3 or (len(t) > 1 and t[0] == "0"):
            return None
        v = _digits(t, 10)
        if not 0 <= v <= 255:
            return None
        out[i] = v
    return bytes(out)


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


def _ip6(s):
    """16 bytes of IPv6 text (no zone), or None."""
    if not 2 <= len(s) <= 45:
        return None
    tail = None
    if "." in s:  # a dotted IPv4 address in the last 32 bits
        k = s.rfind(":")
        tail = _ip4(s[k + 1 :]) if k >= 0 else None
        if tail is None:
            return None
        s = s[: k + 1] + "0:0"
    halves = s.split("::")
    if len(halves) > 2:
        return None
    words = []
    for h in halves:
        g = []
        if h:
            for t in h.split(":"):
                if len(t) > 4:
                    return None
                v = _digits(t, 16)
                if v < 0:
                    return None
                g.append(v)
        words.append(g)
    if len(halves) == 2:
        n = len(words[0]) + len(words[1])
        if n > 7:
            return None
        w = words[0] + [0] * (8 - n) + words[1]
    elif len(words[0]) == 8:
        w = words[0]
    else:
        return None
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = w[i] >> 8
        out[2 * i + 1] = w[i] & 0xFF
    if tail is not None:
        out[12:16] = tail
    return bytes(out)


def _fmt4(b):
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def _fmt6(b):
    """RFC 5952 text of 16 bytes, as glibc writes it (::ffff:a.b.c.d for mapped addresses)."""
    w = [b[i] << 8 | b[i + 1] for i in range(0, 16, 2)]
    best, n, i = -1, 1, 0
    while i < 8:
        if w[i]:
            i += 1
            continue
        j = i
        while j < 8 and not w[j]:
            j += 1
        if j - i > n:
            best, n = i, j - i
        i = j
    if best == 0 and (n == 6 or (n == 5 and w[5] == 0xFFFF)):
        return ("::" if n == 6 else "::ffff:") + _fmt4(b[12:])
    if best < 0:
        return ":".join(["%x" % x for x in w])
    return ":".join(["%x" % x for x in w[:best]]) + "::" + ":".join(["%x" % x for x in w[best + n :]])


def _port(t):
    v = _digits(t, 10) if len(t) <= 5 else -1
    return v if 0 <= v <= 65535 else None


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
    b = _ip6(text)
    return None if b is None else (_fmt6(b), port, 0, scope)


def WSPStringToAddress(text, af, info):
    """Parse '1.2.3.4[:port]' or '[v6[%scope]][:port]' text of family af into an address tuple."""
    if type(text) is not str:
        raise WSAError(WSAEFAULT, "address text must be a str")
    if af not in (0, _AF_INET, _AF_INET6):
        raise WSAError(WSAEINVAL, "family %r" % (af,))
    r = None
    if af != _AF_INET6:
        r = _text4(text)
    if r is None and af != _AF_INET:
        r = _text6(text)
    if r is None:
        raise WSAError(WSAEINVAL, "%r" % (text,))
    return r


def _parse(addr, v6):
    """Check an address tuple; return (packed host or None when not numeric, host text, port, flowinfo, scope_id)."""
    if type(addr) is not tuple or len(addr) not in (2, 4) or type(addr[0]) is not str or type(addr[1]) is not int:
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    h, port = addr[0], addr[1]
    flow = scope = 0
    if len(addr) == 4:
        flow, scope = addr[2], addr[3]
        if type(flow) is not int or type(scope) is not int:
            raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    k = h.find("%") if v6 else -1
    if k >= 0:  # a numeric zone: fe80::1%4
        scope = _digits(h[k + 1 :], 10)
        h = h[:k]
    if not 0 <= port <= 65535 or not 0 <= flow <= 0xFFFFF or not 0 <= scope <= 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "bad port, flowinfo or scope in %r" % (addr,))
    if v6:
        b = _ip6(h) if h else bytes(16)
    else:
        b = _ip4(h) if h else bytes(4)
    return b, h, port, flow, scope


def WSPAddressToString(addr, info):
    """Format an address tuple as 'a.b.c.d[:port]' or 'v6[%scope]' / '[v6[%scope]]:port'."""
    v6 = type(addr) is tuple and len(addr) > 0 and (len(addr) == 4 or ":" in str(addr[0]))
    b, h, port, flow, scope = _parse(addr, v6)
    fam = getattr(info, "address_family", 0)
    if b is None or not h or fam in (_AF_INET, _AF_INET6) and (fam == _AF_INET6) != v6:
        raise WSAError(WSAEINVAL, "%r" % (addr,))
    if not v6:
        return "%s:%d" % (h, port) if port else h
    s = _fmt6(b)
    if scope:
        s = "%s%%%d" % (s, scope)
    return "[%s]:%d" % (s, port) if port else s


# -- addresses: tuples <-> the port's native form --------------------------------------------

def _raw(v6, b, port, flow, scope):
    # A struct sockaddr for the unix port, laid out on a template the C library made.
    i = 1 if v6 else 0
    t = _tmpl[i]
    if t is None:
        t = _tmpl[i] = bytes(_so.getaddrinfo("::" if v6 else "0.0.0.0", 0, _so.AF_INET6 if v6 else _so.AF_INET)[0][-1])
    r = bytearray(t)
    r[2] = port >> 8
    r[3] = port & 0xFF
    if v6:
        import struct

        r[4:8] = flow.to_bytes(4, "big")
        r[8:24] = b
        r[24:28] = struct.pack("I", scope)
    else:
        r[4:8] = b
    return bytes(r)


def _convert(c, addr):
    """Validate addr for c's family; return (addr, v6, native address, _A_* facts) and cache it."""
    global _acache
    v6 = c.state & _V6
    if not v6 and type(addr) is tuple and len(addr) == 4:
        raise WSAError(WSAEAFNOSUPPORT, "IPv6 address")
    b, h, port, flow, scope = _parse(addr, v6)
    if b is None:
        if (_ip4(h) if v6 else _ip6(h.split("%")[0])) is not None:
            raise WSAError(WSAEAFNOSUPPORT, "%s: wrong family" % h)
        raise WSAError(WSAEFAULT, "%r: not numeric" % (h,))
    facts = 0 if port else _A_PORT0
    if not any(b):
        facts |= _A_ANY
    elif b == b"\xff\xff\xff\xff":
        facts |= _A_BCAST
    if _RAW_SOCKADDR:
        na = _raw(v6, b, port, flow, scope)
    elif not h:
        na = ("::" if v6 else "0.0.0.0", port) if _MICROPYTHON or not v6 else ("::", port, flow, scope)
    elif _MICROPYTHON:  # lwIP ports: (ip, port)
        na = addr if len(addr) == 2 and h == addr[0] else (h, port)
    else:
        na = (h, port, flow, scope) if v6 else addr
    t = (addr, v6, na, facts)
    _acache = t
    return t


def _native(c, addr):
    # One cached conversion: a board usually talks to one peer at a time.
    t = _acache
    if t is not None and t[0] == addr and t[1] == c.state & _V6:
        return t
    return _convert(c, addr)


def _norm(c, addr):
    """addr as getpeername reports it: (host, port) or (host, port, flowinfo, scope_id)."""
    if c.state & _V6 and len(addr) == 2:
        return (addr[0], addr[1], 0, 0)
    return addr


def _from_native(c, na):
    """A native address (raw sockaddr on unix, tuple elsewhere) as an address tuple."""
    global _dcache
    if _RAW_SOCKADDR and type(na) is not tuple:
        t = _dcache
        if t is not None and t[0] == na:
            return t[1]
        s = _so.sockaddr(na)
        if len(s[1]) == 16:
            a = (_fmt6(s[1]), s[2], s[3], s[4])
        else:
            a = (_fmt4(s[1]), s[2])
        _dcache = (bytes(na), a)
        return a
    if c.state & _V6:
        if len(na) == 4:
            return na
        return (na[0], na[1], 0, 0)
    return na if len(na) == 2 else (na[0], na[1])


def _sockname(c):
    # The local address: the kernel's answer on CPython, what bind recorded elsewhere.
    if not _MICROPYTHON and not c.state & _DEAD:
        try:
            return _from_native(c, c.sk.getsockname())
        except OSError:
            pass
    if c.local is not None:
        return c.local
    return _ANY6 if c.state & _V6 else _ANY4


# -- helpers -----------------------------------------------------------------------------------

def _fail(e, m):
    """The WSAError for a native failure in timeout mode m (EAGAIN with a timeout is a timeout)."""
    code = wsa_code(e)
    if code == WSAEWOULDBLOCK and m > 0:
        code = WSAETIMEDOUT
    if isinstance(e, WSAError) and e.args[0] == code:
        return e
    return WSAError(code)


def _set_mode(c, m):
    # Native timeouts are switched only when the mode a call needs differs
    # from the one in force, so a steady send/recv loop makes no extra calls.
    c.sk.settimeout(None if m == 0 else (0 if m < 0 else m / 1000))
    c.mode = m


def _no_overlapped(ov, cr):
    if ov is not None or cr is not None:
        raise WSAError(WSAEOPNOTSUPP, "overlapped")


def _extra(c):
    x = c.extra
    if x is None:
        x = c.extra = {}
    return x


def _rflags(flags):
    """Native flags for a receive; WSAEINVAL for unknown ones, WSAEOPNOTSUPP for ones the port lacks."""
    if type(flags) is not int or flags & ~_RECV_FLAGS:
        raise WSAError(WSAEINVAL, "flags %r" % (flags,))
    nf = 0
    if flags & _MSG_PARTIAL:
        raise WSAError(WSAEOPNOTSUPP, "MSG_PARTIAL")
    if flags & _MSG_PEEK:
        if not _NATIVE_PEEK:
            raise WSAError(WSAEOPNOTSUPP, "no MSG_PEEK here")
        nf = _NATIVE_PEEK
    if flags & _MSG_OOB:
        if not _NATIVE_OOB:
            raise WSAError(WSAEOPNOTSUPP, "no OOB on lwIP")
        nf |= _NATIVE_OOB
    return nf


def _sflags(flags):
    """Native flags for a send (MSG_DONTROUTE is a hint providers may ignore)."""
    if type(flags) is not int or flags & ~_SEND_FLAGS:
        raise WSAError(WSAEINVAL, "flags %r" % (flags,))
    if flags & _MSG_PARTIAL:
        raise WSAError(WSAEOPNOTSUPP, "MSG_PARTIAL")
    if flags & _MSG_OOB:
        if not _NATIVE_OOB:
            raise WSAError(WSAEOPNOTSUPP, "no OOB on lwIP")
        return _NATIVE_OOB
    return 0


def _wbuf(b):
    """b as a writable memoryview, or WSAEFAULT (checked before any byte is consumed)."""
    if b is None or type(b) is bytes or type(b) is str:
        raise WSAError(WSAEFAULT, "not a writable buffer")
    try:
        mv = memoryview(b)
        mv[0:0] = b""  # MicroPython's memoryview has no .readonly: a read-only one raises here
    except (TypeError, ValueError):
        raise WSAError(WSAEFAULT, "not a writable buffer")
    return mv


def _wbufs(buffers):
    # A list of writable memoryviews and their total size.
    if type(buffers) in (list, tuple):
        mvs = [_wbuf(b) for b in buffers]
    else:
        mvs = [_wbuf(buffers)]
    n = 0
    for mv in mvs:
        n += len(mv)
    return mvs, n


def _spread(mvs, data, n):
    # Copy data[:n] across the buffers; return n.
    k = 0
    src = memoryview(data)
    for mv in mvs:
        if k >= n:
            break
        m = min(len(mv), n - k)
        mv[:m] = src[k : k + m]
        k += m
    return n


def _rbuf(b):
    # A send buffer's length; str is text, not bytes (MicroPython would send it).
    if type(b) is str or b is None:
        raise WSAError(WSAEFAULT, "not a buffer")
    try:
        return len(b)
    except TypeError:
        raise WSAError(WSAEFAULT, "not a buffer")


def _dword(v, what):
    """An int option/ioctl value: int, bool, or 4+ little-endian bytes; WSAEFAULT otherwise."""
    if type(v) is int or type(v) is bool:
        return int(v)
    if isinstance(v, (bytes, bytearray, memoryview)) and len(v) >= 4:
        return int.from_bytes(bytes(v[:4]), "little")
    raise WSAError(WSAEFAULT, "%s: not an int" % what)


def _probe(c):
    """Learn how a non-blocking connect ended by connecting again (no port has SO_ERROR natively)."""
    if not c.state & _CONNECTING:
        return c.state & _CONNECTED
    m = -1 if c.state & _NONBLOCK else c.sndtimeo
    if c.mode != m:
        _set_mode(c, m)
    err = 0
    try:
        c.sk.connect(_native(c, c.peer)[2])
    except OSError as e:
        err = wsa_code(e)
        if err == WSAEALREADY or err == WSAEWOULDBLOCK:
            return False  # still under way
        if err == WSAEISCONN:
            err = 0
        elif err == WSAECONNRESET or err == WSAENOTSOCK:
            err = WSAECONNREFUSED  # lwIP reports a refused handshake as a reset (or a dropped pcb)
    c.state &= ~_CONNECTING
    if err:
        c.error = err
        return False
    c.state |= _CONNECTED | _BOUND
    return True


def _close_native(c):
    # Release the native socket and what lives beside it; close errors are moot.
    x = c.extra
    if x is not None:
        d = x.pop("defer", None)
        if d is not None:
            d[0].close()
        if not _KERNEL and x.get("groups"):
            # lwIP's memberships belong to the interface, not the socket: leave them.
            nat = _nat_opt(_K_DROP)
            for key in x["groups"]:
                if nat is not None:
                    try:
                        _set_mreq(c.sk, nat, key)
                    except Exception:
                        pass
            x["groups"] = None
    try:
        c.sk.close()
    except OSError:
        pass


# -- proc table: life and connections ---------------------------------------------------------

def WSPSocket(af, typ, proto, info, group, flags):
    """Create a TCP or UDP socket; 0 and FROM_PROTOCOL_INFO take the catalog entry's values."""
    if type(flags) is not int or flags & ~_WSA_FLAGS_OK:
        raise WSAError(WSAEINVAL, "multipoint")
    if group:
        raise WSAError(WSAEINVAL, "groups")
    if af in (0, _FROM_PROTOCOL_INFO):
        af = info.address_family
    if typ in (0, _FROM_PROTOCOL_INFO):
        typ = info.socket_type
    if proto in (0, _FROM_PROTOCOL_INFO):
        proto = info.protocol
    if af not in (_AF_INET, _AF_INET6) or (af == _AF_INET6 and not _IPV6):
        raise WSAError(WSAEAFNOSUPPORT)
    if typ == _SOCK_STREAM:
        if proto != _IPPROTO_TCP:
            raise WSAError(WSAEPROTONOSUPPORT)
        st = 0
    elif typ == _SOCK_DGRAM:
        if proto != _IPPROTO_UDP:
            raise WSAError(WSAEPROTONOSUPPORT)
        st = _DGRAM
    else:
        raise WSAError(WSAESOCKTNOSUPPORT)
    if af == _AF_INET6:
        st |= _V6
    sk = _so.socket(_so.AF_INET6 if st & _V6 else _so.AF_INET, _so.SOCK_DGRAM if st & _DGRAM else _so.SOCK_STREAM)
    c = _Sock(sk, st, info.catalog_entry_id)
    try:
        c.handle = _upcalls.WPUCreateSocketHandle(info.catalog_entry_id, c)
    except BaseException:
        sk.close()
        raise
    return c.handle


def WSPCloseSocket(c):
    """Close the native socket (and a deferred connection) and free the router handle."""
    if c.state & _CLOSED:
        raise WSAError(WSAENOTSOCK)
    c.state |= _CLOSED
    try:
        _close_native(c)
    finally:
        _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


def _bind_ephemeral(c, host):
    # MicroPython cannot tell which port the stack picked for port 0, so pick
    # one here (from the IANA ephemeral range) and move on when it is taken.
    global _eph
    if not _eph:
        import random

        _eph = _EPH_LOW + random.getrandbits(14)
    for _ in range(_EPH_TRIES):
        _eph = _eph + 1 if _eph < 65535 else _EPH_LOW
        a = (host, _eph, 0, 0) if c.state & _V6 else (host, _eph)
        try:
            c.sk.bind(_native(c, a)[2])
            return a
        except OSError as e:
            if wsa_code(e) != WSAEADDRINUSE:
                raise _fail(e, 0)
    raise WSAError(WSAEADDRINUSE, "no free port")


def WSPBind(c, addr):
    """Bind to a local (host, port); port 0 picks a free port."""
    if c.state & (_BOUND | _CONNECTED | _CONNECTING | _DEAD):
        raise WSAError(WSAEINVAL, "bound")
    t = _native(c, addr)
    host = addr[0] or ("::" if c.state & _V6 else "0.0.0.0")
    if t[3] & _A_PORT0 and _MICROPYTHON:
        local = _bind_ephemeral(c, host)
    else:
        try:
            c.sk.bind(t[2])
        except OSError as e:
            raise _fail(e, 0)
        local = _norm(c, (host,) + addr[1:])
    c.state |= _BOUND
    c.local = local
    return 0


def WSPListen(c, backlog):
    """Listen on a bound stream socket (again: a no-op, the backlog stays)."""
    if type(backlog) is not int or backlog < 0:
        raise WSAError(WSAEINVAL, "bad backlog")
    st = c.state
    if st & _DGRAM:
        raise WSAError(WSAEOPNOTSUPP, "not a stream")
    if st & (_CONNECTED | _CONNECTING):
        raise WSAError(WSAEISCONN)
    if not st & _BOUND:
        raise WSAError(WSAEINVAL, "not bound")
    if st & _LISTENING:
        return 0
    try:
        c.sk.listen(min(max(backlog, 1), _MAX_BACKLOG))
    except OSError as e:
        raise _fail(e, 0)
    c.state |= _LISTENING
    return 0


def _reject(nsk):
    # CF_REJECT: reset the connection where the port can (SO_LINGER {1, 0}),
    # so the peer sees it refused rather than served; lwIP can only close it.
    nat = _nat_opt(_K_LINGER)
    if nat is not None:
        import struct

        try:
            nsk.setsockopt(nat[0], nat[1], struct.pack("ii", 1, 0))
        except OSError:
            pass
    nsk.close()


def WSPAccept(c, condition, callback_data):
    """Accept a connection, asking condition(caller, data, qos, callee, callback_data) first; returns (handle, peer)."""
    st = c.state
    if not st & _LISTENING:
        raise WSAError(WSAEINVAL, "not listening")
    x = c.extra
    d = x.pop("defer", None) if x is not None else None
    if d is not None:
        nsk, peer = d
    else:
        m = -1 if st & _NONBLOCK else 0  # Winsock: SO_RCVTIMEO does not bound accept
        if c.mode != m:
            _set_mode(c, m)
        try:
            nsk, na = c.sk.accept()
        except OSError as e:
            raise _fail(e, m)
        peer = _from_native(c, na)
    if condition is not None:
        try:
            verdict = condition(peer, None, None, _sockname(c), callback_data)
        except BaseException:
            nsk.close()
            raise
        if verdict == _CF_DEFER:
            # Windows leaves the request queued; here it waits beside the listener.
            _extra(c)["defer"] = (nsk, peer)
            raise WSAError(WSATRY_AGAIN, "deferred")
        if verdict != _CF_ACCEPT:
            _reject(nsk)
            if verdict == _CF_REJECT:
                raise WSAError(WSAECONNREFUSED, "rejected")
            raise WSAError(WSAEINVAL, "bad verdict %r" % (verdict,))
    n = _Sock(nsk, (st & _INHERIT) | _BOUND | _CONNECTED, c.catalog_id)
    if c.rcvtimeo:
        n.rcvtimeo = c.rcvtimeo
    if c.sndtimeo:
        n.sndtimeo = c.sndtimeo
    if x is not None:
        for k in ("linger", "rcvbuf", "sndbuf"):
            if k in x:
                _extra(n)[k] = x[k]
    n.local = c.local
    n.peer = peer
    try:
        _set_mode(n, -1 if st & _NONBLOCK else 0)  # rp2 passes the listener's timeout on; say what we want
        n.handle = _upcalls.WPUCreateSocketHandle(c.catalog_id, n)
    except BaseException:
        nsk.close()
        raise
    return n.handle, peer


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect (stream) or set the default peer (datagram); SO_SNDTIMEO bounds it."""
    if caller_data or callee_data:
        raise WSAError(WSAEOPNOTSUPP, "connect data")
    if sqos is not None or gqos is not None:
        raise WSAError(WSAEOPNOTSUPP, "QoS")
    st = c.state
    if st & _LISTENING:
        raise WSAError(WSAEINVAL, "listening")
    if not st & _DGRAM:
        if st & _CONNECTING:
            if _probe(c):
                raise WSAError(WSAEISCONN)
            if c.state & _CONNECTING:
                raise WSAError(WSAEALREADY)
            c.error = 0  # it failed; this call starts a new attempt
        elif st & _CONNECTED:
            raise WSAError(WSAEISCONN)
    elif st & _DEAD:
        raise WSAError(WSAEINVAL, "shut down")
    t = _native(c, addr)
    if t[3] & (_A_ANY | _A_PORT0):
        raise WSAError(WSAEADDRNOTAVAIL, "%r" % (addr,))
    m = -1 if st & _NONBLOCK else c.sndtimeo
    if c.mode != m:
        _set_mode(c, m)
    try:
        c.sk.connect(t[2])
    except OSError as e:
        code = wsa_code(e)
        if code == WSAEWOULDBLOCK or code == WSAEALREADY:
            if m < 0:
                c.state |= _CONNECTING | _BOUND
                c.peer = _norm(c, addr)
                raise WSAError(WSAEWOULDBLOCK, "in progress")
            code = WSAETIMEDOUT  # rp2 says EINPROGRESS when its timeout runs out
        elif code == WSAECONNRESET and not st & _DGRAM:
            code = WSAECONNREFUSED  # lwIP's word for a RST answering the SYN
        c.error = code
        raise WSAError(code)
    c.state |= _CONNECTED | _BOUND
    c.peer = _norm(c, addr)
    return 0


def WSPGetSockName(c):
    """Local address; WSAEINVAL before bind (on MicroPython: as bound, wildcard port 0 after an implicit bind)."""
    if not c.state & (_BOUND | _CONNECTED | _CONNECTING):
        raise WSAError(WSAEINVAL, "not bound")
    return _sockname(c)


def WSPGetPeerName(c):
    """Peer address of a connected socket; WSAENOTCONN otherwise."""
    if c.state & _CONNECTING:
        _probe(c)
    if not c.state & _CONNECTED or c.peer is None:
        raise WSAError(WSAENOTCONN)
    return c.peer


# -- proc table: data ------------------------------------------------------------------------------

def _send_one(c, buf, nf, m):
    # Send one buffer; a blocking send sends all of it (Winsock), a non-blocking one what fits.
    n = _rbuf(buf)
    sk = c.sk
    try:
        k = sk.send(buf, nf) if nf else sk.send(buf)
    except OSError as e:
        raise _fail(e, m)
    if k is None:  # MicroPython's stream write on a full non-blocking socket
        raise WSAError(WSAEWOULDBLOCK)
    if k >= n or m < 0:
        return k
    mv = memoryview(buf)
    sent = k
    while sent < n:
        try:
            k = sk.send(mv[sent:], nf) if nf else sk.send(mv[sent:])
        except OSError as e:
            if wsa_code(e) == WSAEWOULDBLOCK:
                break  # the timeout ran out part way: report what went
            raise _fail(e, m)
        if not k:
            break
        sent += k
    return sent


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send a buffer or a list of buffers; returns the bytes sent."""
    if ov is not None or cr is not None:
        _no_overlapped(ov, cr)
    st = c.state
    if st & (_CONNECTED | _SHUT_WR | _DGRAM | _CONNECTING) != _CONNECTED:
        if st & _SHUT_WR:
            raise WSAError(WSAESHUTDOWN)
        if not _probe(c):
            raise WSAError(WSAENOTCONN)
        if st & _DGRAM:
            return _send_dgram(c, buffers, flags, None)
    nf = 0
    m = -1 if st & _NONBLOCK else c.sndtimeo
    if flags:
        nf = _sflags(flags)
        if flags & _MSG_DONTWAIT:
            m = -1
    if c.mode != m:
        _set_mode(c, m)
    if type(buffers) is list or type(buffers) is tuple:
        for b in buffers:
            _rbuf(b)  # every buffer checked first: a bad one must not leave half a message sent
        total = 0
        for b in buffers:
            try:
                k = _send_one(c, b, nf, m)
            except WSAError as e:
                if total and e.args[0] == WSAEWOULDBLOCK:
                    break
                raise
            total += k
            if k < _rbuf(b):
                break
        return total
    return _send_one(c, buffers, nf, m)


def _max_dgram(c):
    return _MAX_DGRAM6 if c.state & _V6 else _MAX_DGRAM4


def _send_dgram(c, buffers, flags, addr):
    # One datagram (a gather list meets in one buffer), to addr or the connected peer.
    st = c.state
    if st & _SHUT_WR:
        raise WSAError(WSAESHUTDOWN)
    m = -1 if st & _NONBLOCK else c.sndtimeo
    if flags:
        _sflags(flags)
        if flags & _MSG_OOB:
            raise WSAError(WSAEOPNOTSUPP, "MSG_OOB")
        if flags & _MSG_DONTWAIT:
            m = -1
    if type(buffers) is list or type(buffers) is tuple:
        n = 0
        for b in buffers:
            n += _rbuf(b)
        if n > _max_dgram(c):  # measured before joining: no 64 KB copy just to refuse it
            raise WSAError(WSAEMSGSIZE, "%d bytes" % n)
        buf = bytearray(n)  # MicroPython's join takes only bytes, not bytearray/memoryview
        mv = memoryview(buf)
        k = 0
        for b in buffers:
            mv[k : k + len(b)] = b
            k += len(b)
    else:
        buf = buffers
        n = _rbuf(buf)
        if n > _max_dgram(c):
            raise WSAError(WSAEMSGSIZE, "%d bytes" % n)
    if addr is None:
        if not st & _CONNECTED:
            raise WSAError(WSAEDESTADDRREQ)
        na = None
    else:
        t = _native(c, addr)
        if t[3] & (_A_ANY | _A_PORT0):
            raise WSAError(WSAEADDRNOTAVAIL, "%r" % (addr,))
        if t[3] & _A_BCAST and not st & _O_BROADCAST:
            raise WSAError(WSAEACCES, "SO_BROADCAST is off")
        na = t[2]
    if c.mode != m:
        _set_mode(c, m)
    try:
        k = c.sk.send(buf) if na is None else c.sk.sendto(buf, na)
    except OSError as e:
        raise _fail(e, m)
    if not st & _BOUND:
        c.state |= _BOUND  # sendto binds implicitly
    return n if k is None else k


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Send one datagram to addr (or the connected peer when addr is None); stream sockets ignore addr."""
    if ov is not None or cr is not None:
        _no_overlapped(ov, cr)
    if not c.state & _DGRAM:
        return WSPSend(c, buffers, flags, None, None, tid)
    return _send_dgram(c, buffers, flags, addr)


def _recv_stream(c, buffers, nf, m):
    # One receive; returns a count, or bytes when buffers is an int.
    sk = c.sk
    if type(buffers) is int:
        n = buffers
        if n < 0:
            raise WSAError(WSAEINVAL, "negative size")
        if n > _RECV_CAP:
            n = _RECV_CAP
        try:
            data = sk.recv(n, nf) if nf else sk.recv(n)
        except OSError as e:
            raise _fail(e, m)
        except TypeError:
            raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
        if data is None:
            raise WSAError(WSAEWOULDBLOCK)
        return data
    if type(buffers) is not list and type(buffers) is not tuple:
        if _RECV_INTO:  # CPython: straight into the caller's buffer
            try:
                return sk.recv_into(buffers, 0, nf)
            except OSError as e:
                raise _fail(e, m)
        if m < 0 and not nf:  # MicroPython, non-blocking: readinto returns what is there
            try:
                k = sk.readinto(buffers)
            except OSError as e:
                raise _fail(e, m)
            if k is None:
                raise WSAError(WSAEWOULDBLOCK)
            return k
    mvs, n = _wbufs(buffers)
    try:
        data = sk.recv(n, nf) if nf else sk.recv(n)
    except OSError as e:
        raise _fail(e, m)
    except TypeError:
        raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
    if data is None:
        raise WSAError(WSAEWOULDBLOCK)
    return _spread(mvs, data, len(data))


def _recv_waitall(c, buffers, nf, m):
    # MSG_WAITALL: receive until the buffers are full, the peer closes, or the timeout ends.
    if type(buffers) is int:
        if buffers < 0:
            raise WSAError(WSAEINVAL, "negative size")
        buf = bytearray(min(buffers, _RECV_CAP))
        return bytes(memoryview(buf)[: _recv_waitall(c, buf, nf, m)])
    mvs, n = _wbufs(buffers)
    got = 0
    for mv in mvs:
        k = 0
        while k < len(mv):
            try:
                r = _recv_stream(c, mv[k:], nf, m)
            except WSAError as e:
                if got + k and e.args[0] in (WSAETIMEDOUT, WSAEWOULDBLOCK):
                    return got + k
                raise
            if not r:
                return got + k
            k += r
        got += k
    return got


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive into a buffer or list of buffers (or, given an int n, into new bytes); returns (count or data, flags)."""
    if ov is not None or cr is not None:
        _no_overlapped(ov, cr)
    st = c.state
    if st & (_CONNECTED | _SHUT_RD | _DGRAM | _CONNECTING) != _CONNECTED:
        if st & _SHUT_RD:
            raise WSAError(WSAESHUTDOWN)
        if st & _DGRAM:
            r = _recv_dgram(c, buffers, flags)
            return r[0], r[1]
        if not _probe(c):
            raise WSAError(WSAENOTCONN)
    nf = 0
    m = -1 if st & _NONBLOCK else c.rcvtimeo
    if flags:
        nf = _rflags(flags)
        if flags & _MSG_DONTWAIT:
            m = -1
        if flags & _MSG_WAITALL:
            if m < 0 or flags & (_MSG_PEEK | _MSG_OOB):
                raise WSAError(WSAEOPNOTSUPP, "MSG_WAITALL")
            if c.mode != m:
                _set_mode(c, m)
            return _recv_waitall(c, buffers, nf, m), 0
    if c.mode != m:
        _set_mode(c, m)
    return _recv_stream(c, buffers, nf, m), 0


def _recv_dgram(c, buffers, flags):
    # One datagram; one byte more than fits is asked for, so a longer one is
    # reported as WSAEMSGSIZE (the buffers hold its start, the rest is lost).
    st = c.state
    if st & _SHUT_RD:
        raise WSAError(WSAESHUTDOWN)
    if not st & (_BOUND | _CONNECTED):
        raise WSAError(WSAEINVAL, "not bound")
    nf = 0
    m = -1 if st & _NONBLOCK else c.rcvtimeo
    if flags:
        nf = _rflags(flags)
        if flags & (_MSG_OOB | _MSG_WAITALL):
            raise WSAError(WSAEOPNOTSUPP, "flag on a datagram")
        if flags & _MSG_DONTWAIT:
            m = -1
    if type(buffers) is int:
        mvs = None
        want = buffers
        if want < 0:
            raise WSAError(WSAEINVAL, "negative size")
    else:
        mvs, want = _wbufs(buffers)
    if want > _RECV_CAP:
        want = min(_max_dgram(c), _RECV_CAP)
    if c.mode != m:
        _set_mode(c, m)
    try:
        data, na = c.sk.recvfrom(want + 1, nf) if nf else c.sk.recvfrom(want + 1)
    except OSError as e:
        raise _fail(e, m)
    except TypeError:
        raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
    addr = _from_native(c, na)
    k = len(data)
    if mvs is not None:
        _spread(mvs, data, min(k, want))
    if k > want:
        raise WSAError(WSAEMSGSIZE, "datagram truncated")
    return (data if mvs is None else k), 0, addr


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive one datagram; returns (count or data, flags, source address)."""
    if ov is not None or cr is not None:
        _no_overlapped(ov, cr)
    if c.state & _DGRAM:
        return _recv_dgram(c, buffers, flags)
    r = WSPRecv(c, buffers, flags, None, None, tid)
    return r[0], r[1], c.peer


# -- proc table: shutdown ------------------------------------------------------------------------------

def WSPShutdown(c, how):
    """SD_RECEIVE, SD_SEND or SD_BOTH: real on CPython; on MicroPython state, and the FIN once both are shut."""
    if type(how) is not int or not 0 <= how <= _SD_BOTH:
        raise WSAError(WSAEINVAL, "bad how")
    st = c.state
    if not st & _DGRAM:
        if st & _CONNECTING:
            _probe(c)
            st = c.state
        if not st & _CONNECTED:
            raise WSAError(WSAENOTCONN)
    if _SHUTDOWN and not st & _DGRAM:
        try:
            c.sk.shutdown(how)  # SHUT_RD, SHUT_WR, SHUT_RDWR share Winsock's numbers
        except OSError as e:
            if wsa_code(e) != WSAENOTCONN:  # the peer already went: nothing left to shut
                raise _fail(e, 0)
    st |= (_SHUT_RD, _SHUT_WR, _SHUT_RD | _SHUT_WR)[how]
    if not _SHUTDOWN and st & _SHUT_RD and st & _SHUT_WR and not st & _DEAD:
        _close_native(c)
        st |= _DEAD
    c.state = st
    return 0


def WSPSendDisconnect(c, data):
    """Shutdown SD_SEND; disconnect data is not supported (WSAENOPROTOOPT)."""
    if data:
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    return WSPShutdown(c, 1)


def WSPRecvDisconnect(c, buf):
    """Shutdown SD_RECEIVE; returns the length of the disconnect data (always 0)."""
    if buf is not None and len(buf):
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    WSPShutdown(c, 0)
    return 0


# -- proc table: options ------------------------------------------------------------------------------

def _nat_opt(k):
    """The port's native (level, name) for option id k, or None when the port lacks it (then it is kept here)."""
    if not _K_REUSE <= k <= _K_DROP:
        return None
    v = getattr(_so, _NAT_NAME[k - 1], None)
    if v is None:
        if not _KERNEL:
            return None
        v = (_NAT_BSD if _DARWIN else _NAT_LINUX)[k - 1]
    if k <= _K_LINGER:
        return getattr(_so, "SOL_SOCKET", 0xFFFF if _DARWIN else 1), v
    if k == _K_NODELAY:
        return getattr(_so, "IPPROTO_TCP", 6), v
    return getattr(_so, "IPPROTO_IP", 0), v


def _set_native(c, k, value):
    nat = _nat_opt(k)
    if nat is None or c.state & _DEAD:
        return
    try:
        c.sk.setsockopt(nat[0], nat[1], value)
    except OSError as e:
        raise _fail(e, 0)


def _set_mreq(sk, nat, key):
    # rp2 wants the buffer to be two lwIP ip_addr_t long (8, 40 or 48 bytes
    # with IPv6 built in) but reads only the first 8: try the lengths in turn.
    for pad in (0, 32, 40):
        try:
            sk.setsockopt(nat[0], nat[1], key + bytes(pad) if pad else key)
            return
        except ValueError:
            if _KERNEL:
                raise
    raise WSAError(WSAEINVAL, "membership refused")


def _opt(c, level, name):
    """The internal id of option (level, name) on c; WSAEINVAL for an unknown level, WSAENOPROTOOPT for an option."""
    if type(level) is not int or type(name) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    dgram = c.state & _DGRAM
    k = 0
    if level == _SOL_SOCKET:
        if name == 0x0004:
            k = _K_REUSE
        elif name == 0x0008:
            k = 0 if dgram else _K_KEEPALIVE
        elif name == 0x0020:
            k = _K_BROADCAST if dgram else 0
        elif name == 0x0080:
            k = 0 if dgram else _K_LINGER
        elif name == -129 or name == 0xFFFFFF7F:  # SO_DONTLINGER = ~SO_LINGER
            k = 0 if dgram else _K_DONTLINGER
        elif 0x1001 <= name <= 0x1008:
            k = (_K_SNDBUF, _K_RCVBUF, 0, 0, _K_SNDTIMEO, _K_RCVTIMEO, _K_ERROR, _K_TYPE)[name - 0x1001]
        elif name == 0x0002:
            k = _K_ACCEPTCONN
        elif name == 0x2003:
            k = _K_MAXMSG if dgram else 0
        elif name == 0x2004 or name == 0x2005:  # SO_PROTOCOL_INFOA / W: one Python type for both
            k = _K_PINFO
    elif level == _IPPROTO_TCP:
        if name == 0x0001 and not dgram:
            k = _K_NODELAY
    elif level == _IPPROTO_IP:
        if 9 <= name <= 13 and dgram and not c.state & _V6:
            k = (_K_MIF, _K_MTTL, _K_MLOOP, _K_ADD, _K_DROP)[name - 9]
    elif level != _IPPROTO_UDP and level != _IPPROTO_IPV6:
        raise WSAError(WSAEINVAL, "level %d" % level)
    if not k:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d" % (level, name))
    return k


def _bit_opt(k):
    if k == _K_REUSE:
        return _O_REUSE
    if k == _K_KEEPALIVE:
        return _O_KEEPALIVE
    if k == _K_BROADCAST:
        return _O_BROADCAST
    if k == _K_NODELAY:
        return _O_NODELAY
    return 0


def _protocol_info(c):
    # The catalog entry the socket was made for, with the socket's own triple.
    from ws2 import catalog
    from ws2.protocol_info import WSAProtocolInfo, from_tuple

    e = catalog.by_id(c.catalog_id)
    p = from_tuple(e) if e is not None else WSAProtocolInfo(catalog_entry_id=c.catalog_id)
    p.address_family = _AF_INET6 if c.state & _V6 else _AF_INET
    p.socket_type = _SOCK_DGRAM if c.state & _DGRAM else _SOCK_STREAM
    p.protocol = _IPPROTO_UDP if c.state & _DGRAM else _IPPROTO_TCP
    return p


def _so_error(c):
    # SO_ERROR: read and clear; a pending non-blocking connect is asked how it went.
    if c.state & _CONNECTING:
        _probe(c)
    e = c.error
    if not e and not _MICROPYTHON and not c.state & _DEAD:
        n = c.sk.getsockopt(_so.SOL_SOCKET, _so.SO_ERROR)
        if n:
            e = wsa_code(OSError(n))
    c.error = 0
    return e


def WSPGetSockOpt(c, level, name):
    """Read a socket option (Winsock numbering; BOOLs as 0/1, SO_LINGER as (onoff, seconds))."""
    k = _opt(c, level, name)
    st = c.state
    b = _bit_opt(k)
    if b:
        return 1 if st & b else 0
    x = c.extra or {}
    if k == _K_LINGER:
        return x.get("linger", (0, 0))
    if k == _K_DONTLINGER:
        return 0 if x.get("linger", (0, 0))[0] else 1
    if k == _K_RCVTIMEO:
        return c.rcvtimeo
    if k == _K_SNDTIMEO:
        return c.sndtimeo
    if k == _K_ERROR:
        return _so_error(c)
    if k == _K_TYPE:
        return _SOCK_DGRAM if st & _DGRAM else _SOCK_STREAM
    if k == _K_PINFO:
        return _protocol_info(c)
    if k == _K_ACCEPTCONN:
        return 1 if st & _LISTENING else 0
    if k == _K_RCVBUF:
        return x.get("rcvbuf", _DEFAULT_BUF)
    if k == _K_SNDBUF:
        return x.get("sndbuf", _DEFAULT_BUF)
    if k == _K_MAXMSG:
        return _max_dgram(c)
    if k == _K_MIF:
        return x.get("mif", "0.0.0.0")
    if k == _K_MTTL:
        return x.get("ttl", 1)
    if k == _K_MLOOP:
        return 0 if st & _O_NOMLOOP else 1
    raise WSAError(WSAENOPROTOOPT, "option %d/%d is write-only" % (level, name))


def _mreq(value):
    # ip_mreq as 8 bytes (group, interface): from (group, iface) text or the raw 8 bytes.
    if type(value) is tuple and len(value) == 2 and type(value[0]) is str and type(value[1]) is str:
        g = _ip4(value[0])
        i = _ip4(value[1]) if value[1] else bytes(4)
        if g is None or i is None:
            raise WSAError(WSAEINVAL, "bad ip_mreq")
        return g + i
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) >= 8:
        return bytes(value[:8])
    raise WSAError(WSAEFAULT, "bad ip_mreq")


def _membership(c, k, value):
    key = _mreq(value)
    if not 224 <= key[0] <= 239:
        raise WSAError(WSAEINVAL, "not a group")
    x = _extra(c)
    groups = x.get("groups") or []
    if k == _K_ADD:
        if key in groups:
            raise WSAError(WSAEADDRINUSE, "already a member")
    elif key not in groups:
        raise WSAError(WSAEADDRNOTAVAIL, "not a member")
    nat = _nat_opt(k)
    if nat is not None and not c.state & _DEAD:
        try:
            _set_mreq(c.sk, nat, key)
        except OSError as e:
            raise _fail(e, 0)
    if k == _K_ADD:
        groups.append(key)
    else:
        groups.remove(key)
    x["groups"] = groups


def WSPSetSockOpt(c, level, name, value):
    """Set a socket option; what the port cannot apply is kept and reported back by WSPGetSockOpt."""
    k = _opt(c, level, name)
    if k >= _K_ERROR:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d is read-only" % (level, name))
    if k == _K_ADD or k == _K_DROP:
        return _membership(c, k, value)
    if k == _K_LINGER or k == _K_DONTLINGER:
        old = (c.extra or {}).get("linger", (0, 0))
        if k == _K_DONTLINGER:
            v = (0 if _dword(value, "SO_DONTLINGER") else 1, old[1])
        elif type(value) in (tuple, list) and len(value) == 2:
            v = (value[0], value[1])
            if type(v[0]) is not int or type(v[1]) is not int:
                raise WSAError(WSAEFAULT, "bad SO_LINGER")
        else:
            d = _dword(value, "SO_LINGER")  # struct linger: two little-endian u_shorts
            v = (d & 0xFFFF, d >> 16)
        if not 0 <= v[1] <= 0xFFFF or v[0] < 0:
            raise WSAError(WSAEINVAL, "bad SO_LINGER")
        v = (1 if v[0] else 0, v[1])
        if _nat_opt(_K_LINGER) is not None:
            import struct

            _set_native(c, _K_LINGER, struct.pack("ii", v[0], v[1]))
        _extra(c)["linger"] = v
        return 0
    if k == _K_MIF:
        if type(value) is str:
            b = _ip4(value) if value else bytes(4)
        elif isinstance(value, (bytes, bytearray)) and len(value) == 4:
            b = bytes(value)
        else:
            raise WSAError(WSAEFAULT, "bad interface")
        if b is None:
            raise WSAError(WSAEINVAL, "bad interface")
        _set_native(c, k, b)
        _extra(c)["mif"] = _fmt4(b)
        return 0
    v = _dword(value, "this option")
    b = _bit_opt(k)
    if b:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state | b) if v else (c.state & ~b)
        return 0
    if v < 0 or v > 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "value %d" % v)
    if k == _K_RCVTIMEO:
        c.rcvtimeo = v
    elif k == _K_SNDTIMEO:
        c.sndtimeo = v
    elif k == _K_RCVBUF:
        _extra(c)["rcvbuf"] = v
    elif k == _K_SNDBUF:
        _extra(c)["sndbuf"] = v
    elif k == _K_MTTL:
        if v > 255:
            raise WSAError(WSAEINVAL, "TTL")
        _set_native(c, k, v)
        _extra(c)["ttl"] = v
    elif k == _K_MLOOP:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state & ~_O_NOMLOOP) if v else (c.state | _O_NOMLOOP)
    return 0


# -- proc table: ioctls -------------------------------------------------------------------------------

def _peek(c, n, nf):
    # Up to n bytes that a receive would return, without waiting or consuming them; None when nothing is there.
    if c.mode != -1:
        _set_mode(c, -1)
    try:
        if c.state & _DGRAM:
            return c.sk.recvfrom(n, nf)[0]
        return c.sk.recv(n, nf)
    except OSError:
        return None


def _fionread(c):
    st = c.state
    if st & (_DEAD | _LISTENING | _SHUT_RD) or not st & (_CONNECTED | _BOUND):
        return 0
    if not _MICROPYTHON:
        try:
            import fcntl
            import struct
            import termios

            return struct.unpack("i", fcntl.ioctl(c.sk.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        except (ImportError, OSError):
            pass
    try:
        data = _peek(c, _PEEK_CAP, _NATIVE_PEEK)
    except TypeError:  # recv without flags (older rp2 firmware): say whether anything is there
        import select

        p = select.poll()
        p.register(c.sk, select.POLLIN)
        return 1 if p.poll(0) else 0
    return len(data) if data else 0


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """FIONBIO, FIONREAD (bytes readable; at most 1500 on MicroPython) and SIOCATMARK; others fail as Windows does."""
    _no_overlapped(ov, cr)
    if type(code) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    code &= 0xFFFFFFFF  # ioctlsocket's cmd is a C long: accept it signed
    if code == _FIONBIO:
        if _dword(in_data, "FIONBIO"):
            c.state |= _NONBLOCK
        else:
            c.state &= ~_NONBLOCK
        if not c.state & _DEAD:
            _set_mode(c, -1 if c.state & _NONBLOCK else 0)
        return 0 if out_len else None  # ioctlsocket (out_len 4) answers 0; WSAIoctl has no output
    if code == _FIONREAD:
        return _fionread(c)
    if code == _SIOCATMARK:
        # TRUE when no urgent data waits (SO_OOBINLINE is off); only kernels have urgent data.
        if not _NATIVE_OOB or c.state & (_DGRAM | _DEAD) or not c.state & _CONNECTED:
            return 1
        return 0 if _peek(c, 1, _NATIVE_OOB | _NATIVE_PEEK) else 1
    if (code >> 27) & 3:
        # A Winsock 2 SIO_* code (IOC_WS2, IOC_PROTOCOL, IOC_VENDOR) this provider cannot realise.
        raise WSAError(WSAEOPNOTSUPP, "ioctl 0x%x" % code)
    raise WSAError(WSAEINVAL, "ioctl 0x%x" % code)


# -- what CE's wspm stubs out, and the table -------------------------------------------------------

def WSPJoinLeaf(c, addr, caller_data, callee_data, sqos, gqos, flags):
    """No multipoint in wspm (as on CE): WSAEOPNOTSUPP."""
    raise WSAError(WSAEOPNOTSUPP, "multipoint")


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP)


def _syscall_failure(*args):
    # What CE's wspm answers for the SPI calls it stubs out.
    raise WSAError(WSASYSCALLFAILURE)


def WSPCleanup():
    """Drop one WSPStartup reference."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    _starts -= 1
    return 0


_TABLE = (
    WSPAccept, WSPAddressToString, _syscall_failure, WSPBind, _syscall_failure, WSPCleanup, WSPCloseSocket,
    WSPConnect, _syscall_failure, _unsupported, _unsupported, _unsupported, WSPGetPeerName,
    WSPGetSockName, WSPGetSockOpt, _syscall_failure, WSPIoctl, WSPJoinLeaf, WSPListen, WSPRecv,
    WSPRecvDisconnect, WSPRecvFrom, _unsupported, WSPSend, WSPSendDisconnect, WSPSendTo, WSPSetSockOpt,
    WSPShutdown, WSPSocket, WSPStringToAddress,
)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    global _upcalls, _starts
    if (version & 0xFF) < 2:
        raise WSAError(WSAVERNOTSUPPORTED)
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 wspm TCP/UDP"), _TABLE
