# providers/wspm: the base TCP/UDP transport provider over MicroPython's (lwIP) socket module.
# MIT licence; part of ws2 for MicroPython. Named after Windows CE's wspm.dll.
#
# Non-IFS, as on CE: each socket's context is a _Sock holding the native
# socket and what the native layer cannot tell us, and the router handle comes
# from WPUCreateSocketHandle. Runs on esp32, rp2, unix MicroPython and CPython.
#
# A package split by what the code does. This module is the socket core, what
# every socket needs: life, bind, connect, send, receive, timeouts, FIONBIO,
# the proc table and WSPStartup. The other parts are imported the first time
# a slot or a rare path needs them (_part), so a board that only connects,
# sends and receives loads this module alone and keeps its RAM:
#   addrtext  WSPAddressToString / WSPStringToAddress, IPv6 text
#   options   get/setsockopt, ioctls, options kept for the port, duplication
#   listen    listen, (conditional) accept, getsockname / getpeername
#   stream    a non-blocking connect's outcome, MSG_WAITALL, shutdown
#   poller    WSPSelect and the kept pollers of the pump and select
# What no port's socket has is emulated from state kept here; what only some
# ports have is decided by the flags below:
#   _KERNEL   unix MicroPython and CPython sit on a host kernel (MSG_OOB,
#             SO_KEEPALIVE, SO_LINGER, multicast options are real there);
#             lwIP ports get those options kept and reported back.
#   names     MicroPython cannot ask for the local address: bind records it
#             (bind to port 0 picks the port here, so it is known), and so
#             does connect (or a first sendto) of an unbound socket, which
#             binds a port picked here first; the local IP of a connected
#             socket comes from the interface that reaches its peer
#             (listen.route_ip).
# errno -> WSA goes through ws2.errors' one table.
import sys

from ws2.native import socket as _so  # the port's module, even after ws2.compat.install()

# The address text codec name resolution uses too (loaded with it anyway): strict dotted quads
# (no leading zeros, as inet_pton) and their text.
from ws2.inaddr import ip4 as _ip4, ntop4 as _fmt4
from ws2.port import allocate_lock, const, micropython
from ws2.errors import (WSAError, WSAEACCES, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAEALREADY,
                        WSAECONNREFUSED, WSAECONNRESET, WSAEDESTADDRREQ, WSAEFAULT, WSAEINTR, WSAEINVAL, WSAEISCONN,
                        WSAEMSGSIZE, WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP, WSAEPROTONOSUPPORT,
                        WSAESHUTDOWN, WSAESOCKTNOSUPPORT, WSAETIMEDOUT, WSAEWOULDBLOCK, WSANOTINITIALISED,
                        WSASYSCALLFAILURE, WSAVERNOTSUPPORTED, wsa_code)

_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_FROM_PROTOCOL_INFO = const(-1)
_WSA_FLAGS_OK = const(0xC1)  # OVERLAPPED, ACCESS_SYSTEM_SECURITY, NO_HANDLE_INHERIT: no multipoint
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_MSG_WAITALL = const(0x8)
_MSG_DONTWAIT = const(0x40)
_MSG_PARTIAL = const(0x8000)
_RECV_FLAGS = const(0x804B)  # OOB PEEK WAITALL DONTWAIT PARTIAL
_SEND_FLAGS = const(0x8045)  # OOB DONTROUTE DONTWAIT PARTIAL
_SOL_SOCKET = const(0xFFFF)
_SO_ACCEPTCONN = const(0x0002)
_SO_SNDTIMEO = const(0x1005)
_SO_RCVTIMEO = const(0x1006)
_SO_ERROR = const(0x1007)
_SO_TYPE = const(0x1008)
_FIONBIO = const(0x8004667E)

# _Sock.state bits: their one declaration. A part that tests a bit keeps a copy of the same
# name (MicroPython folds a const only inside its own module); host_tests/unit/test_wspm_parts.py
# checks every copy against this list.
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
_O_REUSE = const(0x800)  # _O_*: BOOL options, kept here (options reads and sets them)
_O_KEEPALIVE = const(0x1000)
_O_BROADCAST = const(0x2000)
_O_NODELAY = const(0x4000)
_O_NOMLOOP = const(0x8000)  # IP_MULTICAST_LOOP off (Winsock's default is on)
_INHERIT = const(0xF901)  # what an accepted socket takes from its listener: V6, NONBLOCK, the _O_* bits
_POLLABLE = const(0x3A)  # DGRAM, LISTENING, CONNECTED, CONNECTING: a native socket poll can watch

# address facts cached with a converted address
_A_ANY = const(1)  # the unspecified address
_A_PORT0 = const(2)
_A_BCAST = const(4)  # 255.255.255.255

_VERSION = const(0x0202)
# "Wait forever" runs natively in slices of this length: between slices the
# router's blocking callback says whether WSACancelBlockingCall ended the call
# (the Winsock SPI's blocking-hook protocol). Sends share the mode, so an
# echo loop never switches native timeouts.
_SLICED = const(-2)
_SLICE_S = 0.5
_SIO_GET_POLLABLE = const(0x58000001)
_SIO_PUMP_SELECT = const(0x58000002)  # ws2's own: the pump's select entry (poller.pump_select)
_SIO_SELECT_INTO = const(0x58000003)  # ws2's own: select's entry (poller.select_into)
_WSAEADDRINUSE = const(10048)
_SIO_BASE_HANDLE = const(0x48000022)
_MAX_DGRAM4 = const(65507)  # 65535 - IPv4 header - UDP header
_MAX_DGRAM6 = const(65527)
_EPH_LOW = const(49152)  # ephemeral ports picked here (IANA's dynamic range)
_EPH_TRIES = const(32)

# Builtins the hot paths use, bound here: a name missing from a module's
# globals is looked up in builtins only after a probe of the module's dict,
# which on MicroPython walks most of a dict this full (measured: 0.2 us each).
_type, _len, _list, _tuple, _int, _str = type, len, list, tuple, int, str
_bytes, _bytearray, _memoryview, _min, _isinstance = bytes, bytearray, memoryview, min, isinstance
_MICROPYTHON = sys.implementation.name == "micropython"
_RAW_SOCKADDR = _MICROPYTHON and hasattr(_so, "sockaddr")  # unix port: raw struct sockaddr bytes
_KERNEL = not _MICROPYTHON or _RAW_SOCKADDR
_IPV6 = hasattr(_so, "AF_INET6") and sys.platform != "esp32"  # esp32's socket formats only IPv4
_RECV_INTO = hasattr(_so.socket, "recv_into")
_NATIVE_PEEK = getattr(_so, "MSG_PEEK", 0)
_NATIVE_OOB = getattr(_so, "MSG_OOB", 1) if _KERNEL else 0  # 1 on Linux and BSD; lwIP has no urgent data
# recv(n) allocates n bytes up front, so n is capped (a receive may return
# less than asked anyway): lwIP never hands over more than its TCP window
# (~6 KB) at once nor reassembles datagrams much beyond 8 KB, and a board's
# heap finds 4 KB where 64 KB would fail.
_RECV_CAP = 4096 if _MICROPYTHON else 65536
_RECV_MIN = const(256)  # the smallest such block a receive into the caller's buffers retries with
_DGRAM_CAP = 8192 if _MICROPYTHON else 65527
_ANY4 = ("0.0.0.0", 0)
_ANY6 = ("::", 0, 0, 0)

_lock = allocate_lock()
_me = sys.modules[__name__]  # this module (registered before its body runs), handed to the parts
_upcalls = None
_starts = 0
_dups = {}  # WSADuplicateSocket key -> _Sock shared by several handles
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
    extra = None  # dict of rare state (options): linger, ttl, mif, groups, a deferred accept, ...
    refs = 1  # router handles sharing this socket (WSADuplicateSocket)

    def __init__(self, sk, state, catalog_id):
        self.sk = sk
        self.state = state
        self.catalog_id = catalog_id
        self.handle = 0


_parts = {}  # part name -> its module once imported whole (a thread never sees one half made)


def _part(name):
    # A part of the provider (addrtext, options, listen, stream, poller), imported on first use.
    m = _parts.get(name)
    return m if m is not None else _load(name)


def _load(name):
    # Under a lock: on MicroPython a module is in sys.modules while its body still runs, so a
    # second thread's import would hand back a half-made part (seen: no attribute _w).
    with _lock:
        m = _parts.get(name)
        if m is None:
            full = __name__ + "." + name
            m = sys.modules.get(full)
            if m is None:
                # The import runs through this package even when the router has dropped it
                # from sys.modules (it would import a second copy of the core otherwise).
                was = sys.modules.get(__name__)
                sys.modules[__name__] = _me
                try:
                    __import__(full)
                finally:
                    if was is not _me:
                        if was is None:
                            sys.modules.pop(__name__, None)
                        else:
                            sys.modules[__name__] = was
                m = sys.modules[full]
            m._w = _me  # this module, even if the router has since dropped it from sys.modules
            _parts[name] = m
    return m


# -- addresses ------------------------------------------------------------------------------

def _raw(v6, b, port, flow, scope):
    # A struct sockaddr for the unix port, laid out on a template the C library made.
    i = 1 if v6 else 0
    t = _tmpl[i]
    if t is None:
        t = _tmpl[i] = _bytes(_so.getaddrinfo("::" if v6 else "0.0.0.0", 0, _so.AF_INET6 if v6 else _so.AF_INET)[0][-1])
    r = bytearray(t)
    r[2] = port >> 8
    r[3] = port & 0xFF
    if v6:
        r[4:8] = flow.to_bytes(4, "big")
        r[8:24] = b
        r[24:28] = scope.to_bytes(4, sys.byteorder)
    else:
        r[4:8] = b
    return _bytes(r)


def _convert(c, addr):
    """Validate addr for c's family; return (addr, v6, native address, _A_* facts) and cache it."""
    global _acache
    v6 = c.state & _V6
    if _type(addr) is not _tuple or _len(addr) not in (2, 4) or _type(addr[0]) is not _str or _type(addr[1]) is not _int:
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    if v6:
        b, h, port, flow, scope = _part("addrtext").parse6(addr)
    else:
        if _len(addr) == 4:
            raise WSAError(WSAEAFNOSUPPORT, "IPv6 address")
        h, port = addr
        flow = scope = 0
        b = _ip4(h) if h else _bytes(4)
        if not 0 <= port <= 65535:
            raise WSAError(WSAEINVAL, "port %d" % port)
        if b is None:
            raise WSAError(WSAEAFNOSUPPORT if ":" in h else WSAEFAULT, "%r: not an IPv4 address" % (h,))
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
        na = addr if _len(addr) == 2 and h == addr[0] else (h, port)
    else:
        na = (h, port, flow, scope) if v6 else addr
    t = (addr, v6, na, facts)
    _acache = t
    return t


def bind_ephemeral(c, host):
    """Bind to a free port picked here (MicroPython cannot tell which one the stack picks); returns the address."""
    global _eph
    import random

    if not _eph:
        _eph = _EPH_LOW + random.getrandbits(14)
    v6 = c.state & _V6
    for _ in range(_EPH_TRIES):
        _eph = _eph + 1 if _eph < 65535 else _EPH_LOW
        a = (host, _eph, 0, 0) if v6 else (host, _eph)
        if host == "0.0.0.0" or host == "::":  # the wildcard: no address conversion (nor its cache) needed
            na = _raw(v6, _bytes(16 if v6 else 4), _eph, 0, 0) if _RAW_SOCKADDR else (host, _eph)
        else:
            na = _convert(c, a)[2]
        try:
            c.sk.bind(na)
            return a
        except OSError as e:
            if wsa_code(e) != _WSAEADDRINUSE:
                raise _fail(e, 0)
            # Busy ports come in runs (a host's connections in TIME_WAIT): try elsewhere, not next door.
            _eph = _EPH_LOW + random.getrandbits(14)
    raise WSAError(_WSAEADDRINUSE, "no free port")


def _native(c, addr):
    # One cached conversion: a board usually talks to one peer at a time.
    t = _acache
    if t is not None and t[0] == addr and t[1] == c.state & _V6:
        return t
    return _convert(c, addr)


def _norm(c, addr):
    # addr as getpeername reports it: (host, port) or (host, port, flowinfo, scope_id)
    if c.state & _V6 and _len(addr) == 2:
        return (addr[0], addr[1], 0, 0)
    return addr


def _from_native(c, na):
    """A native address (raw sockaddr on unix, tuple elsewhere) as an address tuple."""
    global _dcache
    if _RAW_SOCKADDR and _type(na) is not _tuple:
        t = _dcache
        if t is not None and t[0] == na:
            return t[1]
        s = _so.sockaddr(na)
        if _len(s[1]) == 16:
            a = (_part("addrtext").fmt6(s[1]), s[2], s[3], s[4])
        else:
            a = (_fmt4(s[1]), s[2])
        _dcache = (_bytes(na), a)
        return a
    if c.state & _V6:
        return na if _len(na) == 4 else (na[0], na[1], 0, 0)
    return na if _len(na) == 2 else (na[0], na[1])


# -- helpers -----------------------------------------------------------------------------------

def _fail(e, m):
    """The WSAError for a native failure in timeout mode m (EAGAIN with a timeout is a timeout)."""
    code = wsa_code(e)
    if code == WSAEWOULDBLOCK and m > 0:
        code = WSAETIMEDOUT
    if _isinstance(e, WSAError) and e.args[0] == code:
        return e
    return WSAError(code)


def _set_mode(c, m):
    # Native timeouts are switched only when the mode a call needs differs
    # from the one in force, so a steady send/recv loop makes no extra calls.
    c.sk.settimeout(None if m == 0 else (0 if m == -1 else (_SLICE_S if m == _SLICED else m / 1000)))
    c.mode = m


def _slice_over(c, e):
    """True when a sliced wait's slice ran out (retry); WSAEINTR when WSACancelBlockingCall ended the call."""
    code = e.args[0] if _isinstance(e, WSAError) else wsa_code(e)
    if code != WSAETIMEDOUT and code != WSAEWOULDBLOCK:
        return False
    cb, ctx = _upcalls.WPUQueryBlockingCallback(c.catalog_id)
    if not cb(ctx):
        raise WSAError(WSAEINTR, "blocking call cancelled")
    return True


def _no_overlapped(ov, cr):
    if ov is not None or cr is not None:
        raise WSAError(WSAEOPNOTSUPP, "overlapped")


def _rflags(flags):
    """Native flags for a receive; WSAEINVAL for unknown ones, WSAEOPNOTSUPP for ones the port lacks."""
    if _type(flags) is not _int or flags & ~_RECV_FLAGS:
        raise WSAError(WSAEINVAL, "flags %r" % (flags,))
    if flags & _MSG_PARTIAL or flags & _MSG_PEEK and not _NATIVE_PEEK or flags & _MSG_OOB and not _NATIVE_OOB:
        raise WSAError(WSAEOPNOTSUPP, "flags 0x%x" % flags)
    return (_NATIVE_PEEK if flags & _MSG_PEEK else 0) | (_NATIVE_OOB if flags & _MSG_OOB else 0)


def _sflags(flags):
    """Native flags for a send (MSG_DONTROUTE is a hint providers may ignore)."""
    if _type(flags) is not _int or flags & ~_SEND_FLAGS:
        raise WSAError(WSAEINVAL, "flags %r" % (flags,))
    if flags & _MSG_PARTIAL or flags & _MSG_OOB and not _NATIVE_OOB:
        raise WSAError(WSAEOPNOTSUPP, "flags 0x%x" % flags)
    return _NATIVE_OOB if flags & _MSG_OOB else 0


def _wbuf(b):
    """b as a writable memoryview, or WSAEFAULT (checked before any byte is consumed)."""
    if b is None or _type(b) is _bytes or _type(b) is _str:
        raise WSAError(WSAEFAULT, "not a writable buffer")
    try:
        mv = _memoryview(b)
        mv[0:0] = b""  # MicroPython's memoryview has no .readonly: a read-only one raises here
    except (TypeError, ValueError):
        raise WSAError(WSAEFAULT, "not a writable buffer")
    return mv


def _wbufs(buffers):
    # A list of writable memoryviews and their total size.
    mvs = [_wbuf(b) for b in buffers] if _type(buffers) in (list, tuple) else [_wbuf(buffers)]
    n = 0
    for mv in mvs:
        n += _len(mv)
    return mvs, n


def _spread(mvs, data, n):
    # Copy data[:n] across the buffers; return n.
    k = 0
    src = _memoryview(data)
    for mv in mvs:
        if k >= n:
            break
        m = _min(_len(mv), n - k)
        mv[:m] = src[k : k + m]
        k += m
    return n


@micropython.native
def _rbuf(b):
    # A send buffer's length; str is text, not bytes (MicroPython would send it).
    if _type(b) is _str or b is None:
        raise WSAError(WSAEFAULT, "not a buffer")
    try:
        return _len(b)
    except TypeError:
        raise WSAError(WSAEFAULT, "not a buffer")


def _probe(c):
    # True once a non-blocking connect has succeeded (stream asks how it went).
    if c.state & _CONNECTING:
        return _part("stream").probe(c)
    return c.state & _CONNECTED


# -- proc table: life and connections ---------------------------------------------------------

def WSPSocket(af, typ, proto, info, group, flags):
    """Create a TCP or UDP socket; 0 and FROM_PROTOCOL_INFO take the catalog entry's values."""
    key = info.provider_reserved
    if key and key in _dups:
        # A WSAProtocolInfo from WSADuplicateSocket: one more handle on the same socket.
        c = _dups[key]
        if c.state & _CLOSED:
            raise WSAError(WSAEINVAL, "the duplicated socket was closed")
        h = _upcalls.WPUCreateSocketHandle(c.catalog_id, c)
        c.refs += 1
        return h
    if _type(flags) is not _int or flags & ~_WSA_FLAGS_OK or group:
        raise WSAError(WSAEINVAL, "no multipoint, no groups")
    if af in (0, _FROM_PROTOCOL_INFO):
        af = info.address_family
    if typ in (0, _FROM_PROTOCOL_INFO):
        typ = info.socket_type
    if proto in (0, _FROM_PROTOCOL_INFO):
        proto = info.protocol
    if af not in (_AF_INET, _AF_INET6) or (af == _AF_INET6 and not _IPV6):
        raise WSAError(WSAEAFNOSUPPORT)
    if typ == _SOCK_STREAM:
        st = 0
        if proto != _IPPROTO_TCP:
            raise WSAError(WSAEPROTONOSUPPORT)
    elif typ == _SOCK_DGRAM:
        st = _DGRAM
        if proto != _IPPROTO_UDP:
            raise WSAError(WSAEPROTONOSUPPORT)
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


def _close_native(c):
    # Release the native socket and what lives beside it; close errors are moot.
    if c.extra is not None:
        _part("options").close_extra(c)
    try:
        c.sk.close()
    except OSError:
        pass


def WSPCloseSocket(c):
    """Close the native socket (and a deferred connection) and free the router handle."""
    if c.state & _CLOSED:
        raise WSAError(WSAENOTSOCK)
    if c.refs > 1:
        c.refs -= 1  # other handles still share it: the router frees this handle only
        return 0
    c.state |= _CLOSED
    if _dups:
        for k in [k for k in _dups if _dups[k] is c]:
            del _dups[k]
    try:
        _close_native(c)
    finally:
        try:
            _upcalls.WPUCloseSocketHandle(c.handle)
        except WSAError:
            pass  # a duplicate's close already freed the first handle; the router frees the last
    return 0


def WSPBind(c, addr):
    """Bind to a local (host, port); port 0 picks a free port."""
    if c.state & (_BOUND | _CONNECTED | _CONNECTING | _DEAD):
        raise WSAError(WSAEINVAL, "bound")
    t = _native(c, addr)
    host = addr[0] or ("::" if c.state & _V6 else "0.0.0.0")
    if t[3] & _A_PORT0 and _MICROPYTHON:
        local = bind_ephemeral(c, host)  # MicroPython could not tell which port it got
    else:
        try:
            c.sk.bind(t[2])
        except OSError as e:
            raise _fail(e, 0)
        local = _norm(c, (host,) + addr[1:])
    c.state |= _BOUND
    c.local = local
    return 0


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect (stream) or set the default peer (datagram); SO_SNDTIMEO bounds it."""
    if caller_data or callee_data or sqos is not None or gqos is not None:
        raise WSAError(WSAEOPNOTSUPP, "no connect data, no QoS")
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
    if _MICROPYTHON and not st & _BOUND:
        # The port the stack would pick could never be learnt: pick one and bind it, so getsockname knows it.
        c.local = bind_ephemeral(c, "::" if st & _V6 else "0.0.0.0")
        c.state |= _BOUND
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


# -- proc table: data ------------------------------------------------------------------------------

def _send_one(c, buf, nf, m, k=-1):
    # Send one buffer; a blocking send sends all of it (Winsock), a non-blocking one what fits.
    # k: the outcome of a first native send WSPSend already made (count, None or the OSError); -1: none yet.
    n = _rbuf(buf)
    sk = c.sk
    if k == -1:
        try:
            k = sk.send(buf, nf) if nf else sk.send(buf)
        except OSError as e:
            k = e
    if _isinstance(k, OSError):
        if m != _SLICED or not _slice_over(c, k):
            raise _fail(k, m)
        k = 0
    if k is None:  # MicroPython's stream write on a full non-blocking socket
        raise WSAError(WSAEWOULDBLOCK)
    if k >= n or m == -1:
        return k
    mv = _memoryview(buf)
    sent = k
    while sent < n:
        try:
            k = sk.send(mv[sent:], nf) if nf else sk.send(mv[sent:])
        except OSError as e:
            if m == _SLICED and _slice_over(c, e):
                continue
            if wsa_code(e) == WSAEWOULDBLOCK:
                break  # the timeout ran out part way: report what went
            raise _fail(e, m)
        if not k:
            break
        sent += k
    return sent


@micropython.native
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
    m = -1 if st & _NONBLOCK else (c.sndtimeo or _SLICED)
    if flags:
        nf = _sflags(flags)
        if flags & _MSG_DONTWAIT:
            m = -1
    if c.mode != m:
        _set_mode(c, m)
    if _type(buffers) is _list or _type(buffers) is _tuple:
        for b in buffers:
            _rbuf(b)  # every buffer checked first: a bad one must not leave half a message sent
        total = 0
        for b in buffers:
            try:
                k = _send_one(c, b, nf, m)
            except WSAError as e:
                if total and e.args[0] == WSAEWOULDBLOCK:
                    break
                raise e  # (the native emitter has no bare raise)
            total += k
            if k < _rbuf(b):
                break
        return total
    t = _type(buffers)
    if nf or (t is not _bytes and t is not _bytearray and t is not _memoryview):
        return _send_one(c, buffers, nf, m)
    # One plain buffer, the common case: the first native send is made here (a
    # frame less per call); _send_one takes over only for what it leaves.
    try:
        k = c.sk.send(buffers)
    except OSError as e:
        return _send_one(c, buffers, nf, m, e)
    if k is not None and (k >= _len(buffers) or m == -1):
        return k
    return _send_one(c, buffers, nf, m, k)


def _max_dgram(c):
    return _MAX_DGRAM6 if c.state & _V6 else _MAX_DGRAM4


def _send_dgram(c, buffers, flags, addr):
    # One datagram (a gather list meets in one buffer), to addr or the connected peer.
    st = c.state
    if st & _SHUT_WR:
        raise WSAError(WSAESHUTDOWN)
    m = -1 if st & _NONBLOCK else c.sndtimeo
    if flags:
        if _sflags(flags):
            raise WSAError(WSAEOPNOTSUPP, "MSG_OOB")
        if flags & _MSG_DONTWAIT:
            m = -1
    if _type(buffers) is _list or _type(buffers) is _tuple:
        n = 0
        for b in buffers:
            n += _rbuf(b)
        if n > _max_dgram(c):  # measured before joining: no 64 KB copy just to refuse it
            raise WSAError(WSAEMSGSIZE, "%d bytes" % n)
        buf = bytearray(n)  # MicroPython's join takes only bytes, not bytearray/memoryview
        mv = _memoryview(buf)
        k = 0
        for b in buffers:
            mv[k : k + _len(b)] = b
            k += _len(b)
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
    if not st & _BOUND:  # sendto binds implicitly
        if _MICROPYTHON:  # with a port picked here, so that getsockname knows it
            c.local = bind_ephemeral(c, "::" if st & _V6 else "0.0.0.0")
        c.state |= _BOUND
    if c.mode != m:
        _set_mode(c, m)
    try:
        k = c.sk.send(buf) if na is None else c.sk.sendto(buf, na)
    except OSError as e:
        raise _fail(e, m)
    return n if k is None else k


@micropython.native
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
    if _type(buffers) is _int:
        n = buffers
        if n < 0:
            raise WSAError(WSAEINVAL, "negative size")
        try:
            data = sk.recv(_min(n, _RECV_CAP), nf) if nf else sk.recv(_min(n, _RECV_CAP))
        except OSError as e:
            raise _fail(e, m)
        except TypeError:
            raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
        if data is None:
            raise WSAError(WSAEWOULDBLOCK)
        return data
    one = _type(buffers) is not _list and _type(buffers) is not _tuple
    if one:
        if _RECV_INTO:  # CPython: straight into the caller's buffer
            try:
                return sk.recv_into(buffers, 0, nf)
            except OSError as e:
                raise _fail(e, m)
        if m == -1 and not nf:  # MicroPython, non-blocking: readinto returns what is there
            try:
                k = sk.readinto(buffers)
            except OSError as e:
                raise _fail(e, m)
            if k is None:
                raise WSAError(WSAEWOULDBLOCK)
            return k
        mv = _wbuf(buffers)  # one buffer: no list, no second view (recv_into's allocations)
        n = _len(mv)
    else:
        mvs, n = _wbufs(buffers)
    if n > _RECV_CAP:
        n = _RECV_CAP
    while True:
        try:
            data = sk.recv(n, nf) if nf else sk.recv(n)
            break
        except OSError as e:
            raise _fail(e, m)
        except TypeError:
            raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
        except MemoryError:
            # The bytes in between are ours, not the caller's: on a heap too
            # fragmented for n bytes take less (a receive may return less).
            if n <= _RECV_MIN:
                raise
            n >>= 2
    if data is None:
        raise WSAError(WSAEWOULDBLOCK)
    if one:
        n = _len(data)
        mv[:n] = data
        return n
    return _spread(mvs, data, _len(data))


@micropython.native
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
    m = -1 if st & _NONBLOCK else (c.rcvtimeo or _SLICED)
    if flags:
        nf = _rflags(flags)
        if flags & _MSG_DONTWAIT:
            m = -1
        if flags & _MSG_WAITALL:
            return _part("stream").recv_waitall(c, buffers, flags, nf, m), 0
    if c.mode != m:
        _set_mode(c, m)
    while True:
        try:
            return _recv_stream(c, buffers, nf, m), 0
        except WSAError as e:
            if m != _SLICED or not _slice_over(c, e):
                raise e


def _recv_dgram(c, buffers, flags):
    # One datagram; one byte more than fits is asked for, so a longer one is
    # reported as WSAEMSGSIZE (the buffers hold its start, the rest is lost).
    st = c.state
    if st & _SHUT_RD:
        raise WSAError(WSAESHUTDOWN)
    if not st & (_BOUND | _CONNECTED):
        raise WSAError(WSAEINVAL, "not bound")
    nf = 0
    m = -1 if st & _NONBLOCK else (c.rcvtimeo or _SLICED)
    if flags:
        nf = _rflags(flags)
        if flags & (_MSG_OOB | _MSG_WAITALL):
            raise WSAError(WSAEOPNOTSUPP, "flag on a datagram")
        if flags & _MSG_DONTWAIT:
            m = -1
    if _type(buffers) is _int:
        mvs = None
        want = buffers
        if want < 0:
            raise WSAError(WSAEINVAL, "negative size")
    else:
        mvs, want = _wbufs(buffers)
    if want > _DGRAM_CAP:
        want = _min(_max_dgram(c), _DGRAM_CAP)
    if c.mode != m:
        _set_mode(c, m)
    while True:
        try:
            data, na = c.sk.recvfrom(want + 1, nf) if nf else c.sk.recvfrom(want + 1)
            break
        except OSError as e:
            if m != _SLICED or not _slice_over(c, e):
                raise _fail(e, m)
        except TypeError:
            raise WSAError(WSAEOPNOTSUPP, "no recv flags here")
    addr = _from_native(c, na)
    k = _len(data)
    if mvs is not None:
        _spread(mvs, data, _min(k, want))
    if k > want:
        raise WSAError(WSAEMSGSIZE, "datagram truncated")
    return (data if mvs is None else k), 0, addr


@micropython.native
def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive one datagram; returns (count or data, flags, source address)."""
    if ov is not None or cr is not None:
        _no_overlapped(ov, cr)
    if c.state & _DGRAM:
        return _recv_dgram(c, buffers, flags)
    r = WSPRecv(c, buffers, flags, None, None, tid)
    return r[0], r[1], c.peer


# -- proc table: the common options and FIONBIO (the rest is in options) -----------------------------

def WSPGetSockOpt(c, level, name):
    """Read a socket option (Winsock numbering; BOOLs as 0/1, SO_LINGER as (onoff, seconds))."""
    if level == _SOL_SOCKET and _type(name) is _int:
        if name == _SO_RCVTIMEO:
            return c.rcvtimeo
        if name == _SO_SNDTIMEO:
            return c.sndtimeo
        if name == _SO_TYPE:
            return _SOCK_DGRAM if c.state & _DGRAM else _SOCK_STREAM
        if name == _SO_ACCEPTCONN:
            return 1 if c.state & _LISTENING else 0
        if name == _SO_ERROR and _MICROPYTHON and not c.state & _CONNECTING:
            e = c.error
            c.error = 0
            return e
    return _part("options").WSPGetSockOpt(c, level, name)


def WSPSetSockOpt(c, level, name, value):
    """Set a socket option; what the port cannot apply is kept and reported back by WSPGetSockOpt."""
    if level == _SOL_SOCKET and _type(value) is _int and 0 <= value <= 0xFFFFFFFF:
        if name == _SO_RCVTIMEO:
            c.rcvtimeo = value
            return 0
        if name == _SO_SNDTIMEO:
            c.sndtimeo = value
            return 0
    return _part("options").WSPSetSockOpt(c, level, name, value)


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """FIONBIO, FIONREAD (bytes readable; at most 1500 on MicroPython) and SIOCATMARK; others fail as Windows does."""
    _no_overlapped(ov, cr)
    if code == _SIO_GET_POLLABLE:
        return c.sk  # what select.poll / asyncio waits on
    if code == _SIO_BASE_HANDLE:
        return c.handle
    if code == _SIO_PUMP_SELECT:
        # ws2's own, for ws2.netevents: the pump's select entry, with the context it was asked on so that
        # the router can tell a layer's pass-through (another context) from this provider's answer.
        return _part("poller").pump_select, c
    if code == _SIO_SELECT_INTO:
        return _part("poller").select_into, c  # the same for ws2.select
    if code != _FIONBIO or _type(in_data) is not _int:
        return _part("options").WSPIoctl(c, code, in_data, out_len)
    if in_data:
        c.state |= _NONBLOCK
    else:
        c.state &= ~_NONBLOCK
    if not c.state & _DEAD:
        _set_mode(c, -1 if in_data else 0)
    return 0 if out_len else None  # ioctlsocket (out_len 4) answers 0; WSAIoctl has no output


# -- startup, cleanup, the table ------------------------------------------------------------------

def _home(name):
    # The part that serves the cold slot `name`. Comparisons, not a second variable captured by each
    # of the twelve slots below nor tuples of names: both would stay in RAM, this is bytecode.
    if name == "WSPAccept" or name == "WSPListen" or name == "WSPGetPeerName" or name == "WSPGetSockName":
        return "listen"
    if name == "WSPAddressToString" or name == "WSPStringToAddress":
        return "addrtext"
    if name == "WSPSelect":
        return "poller"
    if name == "WSPDuplicateSocket":
        return "options"
    return "stream"  # WSPShutdown, WSPSendDisconnect, WSPRecvDisconnect, WSPJoinLeaf


def _cold(name):
    # A table slot served by a part, imported when the slot is first used.
    def slot(*args):
        return getattr(_part(_home(name)), name)(*args)

    return slot


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP)


def _syscall_failure(*args):
    # What CE's wspm answers for the SPI calls it stubs out.
    raise WSAError(WSASYSCALLFAILURE)


def WSPCleanup():
    """Drop one WSPStartup reference; the last one also drops the parts imported since."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    _starts -= 1
    if not _starts:
        # As the router drops this module, its parts go with it (from sys.modules and from
        # this package's names, where the import put them).
        for name in _parts:
            sys.modules.pop(__name__ + "." + name, None)
            try:
                delattr(_me, name)
            except (AttributeError, TypeError):
                pass
        _parts.clear()
    return 0


# WSPPROC_TABLE slots (homes: ws2.spiconst; copies here for the compiler, checked by a unit test)
_WSP_ACCEPT = const(0)
_WSP_ADDRESSTOSTRING = const(1)
_WSP_ASYNCSELECT = const(2)
_WSP_BIND = const(3)
_WSP_CANCELBLOCKINGCALL = const(4)
_WSP_CLEANUP = const(5)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_DUPLICATESOCKET = const(8)
_WSP_ENUMNETWORKEVENTS = const(9)
_WSP_EVENTSELECT = const(10)
_WSP_GETOVERLAPPEDRESULT = const(11)
_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKNAME = const(13)
_WSP_GETSOCKOPT = const(14)
_WSP_GETQOSBYNAME = const(15)
_WSP_IOCTL = const(16)
_WSP_JOINLEAF = const(17)
_WSP_LISTEN = const(18)
_WSP_RECV = const(19)
_WSP_RECVDISCONNECT = const(20)
_WSP_RECVFROM = const(21)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SENDDISCONNECT = const(24)
_WSP_SENDTO = const(25)
_WSP_SETSOCKOPT = const(26)
_WSP_SHUTDOWN = const(27)
_WSP_SOCKET = const(28)
_WSP_STRINGTOADDRESS = const(29)
_WSP_TABLE_SIZE = const(30)


def _table():
    # The proc table, slot by name; the router and layers see a tuple.
    t = [None] * _WSP_TABLE_SIZE
    t[_WSP_ACCEPT] = _cold("WSPAccept")
    t[_WSP_ADDRESSTOSTRING] = _cold("WSPAddressToString")
    t[_WSP_ASYNCSELECT] = _syscall_failure
    t[_WSP_BIND] = WSPBind
    t[_WSP_CANCELBLOCKINGCALL] = _syscall_failure
    t[_WSP_CLEANUP] = WSPCleanup
    t[_WSP_CLOSESOCKET] = WSPCloseSocket
    t[_WSP_CONNECT] = WSPConnect
    t[_WSP_DUPLICATESOCKET] = _cold("WSPDuplicateSocket")
    t[_WSP_ENUMNETWORKEVENTS] = _unsupported  # the router runs events and overlapped I/O
    t[_WSP_EVENTSELECT] = _unsupported
    t[_WSP_GETOVERLAPPEDRESULT] = _unsupported
    t[_WSP_GETPEERNAME] = _cold("WSPGetPeerName")
    t[_WSP_GETSOCKNAME] = _cold("WSPGetSockName")
    t[_WSP_GETSOCKOPT] = WSPGetSockOpt
    t[_WSP_GETQOSBYNAME] = _syscall_failure
    t[_WSP_IOCTL] = WSPIoctl
    t[_WSP_JOINLEAF] = _cold("WSPJoinLeaf")
    t[_WSP_LISTEN] = _cold("WSPListen")
    t[_WSP_RECV] = WSPRecv
    t[_WSP_RECVDISCONNECT] = _cold("WSPRecvDisconnect")
    t[_WSP_RECVFROM] = WSPRecvFrom
    t[_WSP_SELECT] = _cold("WSPSelect")
    t[_WSP_SEND] = WSPSend
    t[_WSP_SENDDISCONNECT] = _cold("WSPSendDisconnect")
    t[_WSP_SENDTO] = WSPSendTo
    t[_WSP_SETSOCKOPT] = WSPSetSockOpt
    t[_WSP_SHUTDOWN] = _cold("WSPShutdown")
    t[_WSP_SOCKET] = WSPSocket
    t[_WSP_STRINGTOADDRESS] = _cold("WSPStringToAddress")
    return _tuple(t)


_TABLE = _table()
del _table  # runs once: its function object need not stay


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    global _upcalls, _starts
    if (version & 0xFF) < 2:
        raise WSAError(WSAVERNOTSUPPORTED)
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 wspm TCP/UDP"), _TABLE
