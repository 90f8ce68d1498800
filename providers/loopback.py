# providers/loopback: TCP and UDP on 127.0.0.1 in memory, inside one interpreter.
# MIT licence; part of ws2 for MicroPython.
#
# A base transport provider with no network under it: sockets of this
# provider reach only each other, through buffers in this module. It lets an
# application (and ws2's own tests) run its socket code on a board with no
# network interface, or before Wi-Fi is up: install it, then plain
# socket(AF_INET, ...) calls land here (install() puts its entries first).
# Semantics follow Winsock on loopback: connect to a port with no listener is
# WSAECONNREFUSED, a listener's backlog holds connections until accept, a
# close with unread data resets the peer, datagrams to a port nobody bound
# are dropped. Events, select, WSAPoll and overlapped I/O are run by the
# router on top of WSPSelect and the non-blocking calls here. One interpreter
# has one loopback: every started instance shares the port table.
from ws2.errors import (WSAError, WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAECONNREFUSED,
                        WSAECONNRESET, WSAEFAULT, WSAEINTR, WSAEINVAL, WSAEISCONN, WSAEMSGSIZE, WSAENOPROTOOPT,
                        WSAENOTCONN, WSAEOPNOTSUPP, WSAEPROTONOSUPPORT, WSAESHUTDOWN, WSAESOCKTNOSUPPORT,
                        WSAETIMEDOUT, WSAEWOULDBLOCK, WSAVERNOTSUPPORTED)
from ws2.inaddr import ip4 as _ip4
from ws2.port import const, sleep_ms, ticks_diff, ticks_ms

GUID = "{6B1F0C52-3D8E-4A7B-9E2C-51A0D7F4C3B8}"
PATH = "providers.loopback"
_AF_INET = const(2)
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
_RECV_FLAGS = const(0x4A)  # PEEK WAITALL DONTWAIT
_SEND_FLAGS = const(0x44)  # DONTROUTE DONTWAIT
_SOL_SOCKET = const(0xFFFF)
_IPPROTO_TCP_LEVEL = const(6)
_TCP_NODELAY = const(1)
_SO_ACCEPTCONN = const(0x0002)
_SO_RCVTIMEO = const(0x1006)
_SO_SNDTIMEO = const(0x1005)
_SO_ERROR = const(0x1007)
_SO_TYPE = const(0x1008)
_SO_SNDBUF = const(0x1001)
_SO_RCVBUF = const(0x1002)
_SO_PROTOCOL_INFO = const(0x2005)
_KEPT_OPTS = (0x0004, 0x0008, 0x0020, 0x0080, 0x0100)  # REUSEADDR KEEPALIVE BROADCAST LINGER OOBINLINE
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_SD_RECEIVE = const(0)
_SD_SEND = const(1)
_SD_BOTH = const(2)
_VERSION = const(0x0202)
_BUF = const(8192)  # bytes a stream socket buffers towards its reader (SO_RCVBUF)
_DGRAM_QUEUE = const(8)  # datagrams a socket holds before newer ones are dropped
_MAX_DGRAM = const(65507)
_FIRST_EPHEMERAL = const(49152)
_SLICE_MS = const(5)
_MAX_BACKLOG = const(16)

# socket states
_NEW = const(0)
_LISTENING = const(1)
_CONNECTED = const(2)
_FAILED = const(3)  # a non-blocking connect was refused; SO_ERROR says so
_CLOSED = const(4)

_upcalls = None
_starts = 0
_ports = {}  # (type, port) -> _Sock bound there
_next_port = _FIRST_EPHEMERAL


class _Sock:
    """Context of one loopback socket."""

    def __init__(self, typ, entry):
        self.typ = typ
        self.entry = entry
        self.handle = 0
        self.state = _NEW
        self.host = None  # bound address text, "0.0.0.0" or "127.0.0.1"
        self.port = 0
        self.peer = None  # stream: the other _Sock; datagram: the connected (host, port)
        self.rx = bytearray() if typ == _SOCK_STREAM else []  # bytes or [(datagram, from)]
        self.eof = False  # the peer sent its last byte (closed or shut down its sending side)
        self.reset = False  # the peer aborted the connection
        self.shut = 0  # 1 receive side shut, 2 send side shut
        self.backlog = None  # listening: connections waiting for accept
        self.limit = 0
        self.nonblock = False
        self.error = 0
        self.rcvtimeo = 0
        self.sndtimeo = 0
        self.opts = {}


# -- helpers ------------------------------------------------------------------------------

def _elapsed(t0):
    return ticks_diff(ticks_ms(), t0)


def _wait(c, ready, nonblock, timeout):
    """Until ready() is true: WSAEWOULDBLOCK at once when non-blocking, else in slices (other threads run)."""
    if ready():
        return
    if nonblock:
        raise WSAError(WSAEWOULDBLOCK)
    t0 = ticks_ms()
    while not ready():
        if timeout and _elapsed(t0) >= timeout:
            raise WSAError(WSAETIMEDOUT)
        cb, ctx = _upcalls.WPUQueryBlockingCallback(c.entry)
        if not cb(ctx):
            raise WSAError(WSAEINTR, "blocking call cancelled")
        sleep_ms(_SLICE_MS)


def _addr(addr):
    """(host text, port) of an AF_INET address tuple; WSAEFAULT/WSAEINVAL for a malformed one."""
    if type(addr) is not tuple or len(addr) != 2 or type(addr[0]) is not str or type(addr[1]) is not int:
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    host, port = addr
    if not 0 <= port <= 65535:
        raise WSAError(WSAEINVAL, "port %d" % port)
    b = _ip4(host) if host else bytes(4)
    if b is None:
        raise WSAError(WSAEAFNOSUPPORT if ":" in host else WSAEFAULT, "%r: not an IPv4 address" % (host,))
    return b, port


def _local(b):
    # The loopback reaches 127.0.0.0/8; binding also accepts the wildcard.
    return b[0] == 127 or not any(b)


def _bind(c, host, port):
    global _next_port
    if port == 0:
        for _ in range(16384):
            port = _next_port
            _next_port = _next_port + 1 if _next_port < 65535 else _FIRST_EPHEMERAL
            if (c.typ, port) not in _ports:
                break
    if (c.typ, port) in _ports:
        raise WSAError(WSAEADDRINUSE, "port %d is in use" % port)
    _ports[(c.typ, port)] = c
    c.host = host
    c.port = port


def _implicit_bind(c):
    if not c.port:
        _bind(c, "0.0.0.0", 0)


def _me(c):
    return ("127.0.0.1" if c.host == "0.0.0.0" else c.host, c.port)


def _flags(flags, allowed):
    if type(flags) is not int or flags & ~allowed & ~_MSG_OOB:
        raise WSAError(WSAEINVAL, "flags %r" % (flags,))
    if flags & _MSG_OOB:
        raise WSAError(WSAEOPNOTSUPP, "no urgent data on the loopback")


def _no_overlapped(ov, cr):
    if ov is not None or cr is not None:
        raise WSAError(WSAEOPNOTSUPP, "overlapped I/O is run by the router")


def _source(buffers):
    """The bytes to send from one buffer or a list of them (str is text, not bytes)."""
    bufs = buffers if type(buffers) in (list, tuple) else (buffers,)
    out = bytearray()
    for b in bufs:
        if b is None or type(b) is str:
            raise WSAError(WSAEFAULT, "not a buffer")
        try:
            out += b
        except TypeError:
            raise WSAError(WSAEFAULT, "not a buffer")
    return out


def _targets(buffers):
    """Writable memoryviews of a receive's buffers, or None for an int (receive into new bytes)."""
    if type(buffers) is int:
        if buffers < 0:
            raise WSAError(WSAEINVAL, "negative length")
        return None
    out = []
    for b in buffers if type(buffers) in (list, tuple) else (buffers,):
        if b is None or type(b) in (bytes, str):
            raise WSAError(WSAEFAULT, "not a writable buffer")
        try:
            mv = memoryview(b)
            mv[0:0] = b""
        except (TypeError, ValueError):
            raise WSAError(WSAEFAULT, "not a writable buffer")
        out.append(mv)
    return out


def _room(mvs):
    n = 0
    for mv in mvs:
        n += len(mv)
    return n


def _deliver(data, mvs):
    """data into the buffers (or as bytes when mvs is None); returns the count or the bytes."""
    if mvs is None:
        return bytes(data)
    k = 0
    for mv in mvs:
        m = min(len(mv), len(data) - k)
        mv[:m] = data[k : k + m]
        k += m
        if k >= len(data):
            break
    return k


# -- readiness ----------------------------------------------------------------------------------

def _readable(c):
    if c.state == _LISTENING:
        return bool(c.backlog)
    if c.typ == _SOCK_DGRAM:
        return bool(c.rx)
    return c.state == _CONNECTED and (bool(c.rx) or c.eof or c.reset or c.shut & 1)


def _writable(c):
    if c.typ == _SOCK_DGRAM:
        return c.state != _CLOSED
    if c.state != _CONNECTED:
        return False
    p = c.peer
    return c.reset or p is None or p.state == _CLOSED or len(p.rx) < _BUF


def _exceptional(c):
    return c.state == _FAILED


# -- proc table -------------------------------------------------------------------------------------

def WSPSocket(af, typ, proto, info, group, flags):
    """Create a loopback TCP or UDP socket; 0 and FROM_PROTOCOL_INFO take the catalog entry's values."""
    if type(flags) is not int or flags & ~_WSA_FLAGS_OK or group:
        raise WSAError(WSAEINVAL, "no multipoint, no groups")
    af, typ, proto = [d if v in (0, _FROM_PROTOCOL_INFO) else v for v, d in
                      ((af, info.address_family), (typ, info.socket_type), (proto, info.protocol))]
    if af != _AF_INET:
        raise WSAError(WSAEAFNOSUPPORT, "the loopback provider is IPv4 only")
    if typ not in (_SOCK_STREAM, _SOCK_DGRAM):
        raise WSAError(WSAESOCKTNOSUPPORT)
    if proto != (_IPPROTO_TCP if typ == _SOCK_STREAM else _IPPROTO_UDP):
        raise WSAError(WSAEPROTONOSUPPORT)
    c = _Sock(typ, info.catalog_entry_id)
    c.handle = _upcalls.WPUCreateSocketHandle(c.entry, c)
    return c.handle


def WSPBind(c, addr):
    """Bind to 0.0.0.0 or 127.x.x.x; port 0 picks a free one."""
    b, port = _addr(addr)
    if c.port:
        raise WSAError(WSAEINVAL, "already bound")
    if not _local(b):
        raise WSAError(WSAEADDRNOTAVAIL, "%s is not a loopback address" % addr[0])
    _bind(c, "0.0.0.0" if not any(b) else addr[0], port)
    return 0


def WSPListen(c, backlog):
    """Start accepting connections (the port must be bound)."""
    if c.typ != _SOCK_STREAM:
        raise WSAError(WSAEOPNOTSUPP, "listen on a datagram socket")
    if not c.port:
        raise WSAError(WSAEINVAL, "listen before bind")
    if c.state == _CONNECTED:
        raise WSAError(WSAEISCONN)
    if type(backlog) is not int:
        raise WSAError(WSAEINVAL, "backlog %r" % (backlog,))
    c.limit = min(max(backlog, 1), _MAX_BACKLOG)
    if c.state != _LISTENING:
        c.state = _LISTENING
        c.backlog = []
    return 0


def WSPAccept(c, condition, callback_data):
    """Take the next connection from the backlog: (new handle, peer address)."""
    if c.state != _LISTENING:
        raise WSAError(WSAEINVAL, "accept on a socket that is not listening")
    if condition is not None:
        raise WSAError(WSAEOPNOTSUPP, "conditional accept")
    _wait(c, lambda: bool(c.backlog), c.nonblock, c.rcvtimeo)
    s = c.backlog.pop(0)
    s.nonblock = c.nonblock  # an accepted socket inherits the listener's mode, as on Windows
    s.handle = _upcalls.WPUCreateSocketHandle(s.entry, s)
    return s.handle, _me(s.peer) if s.peer is not None else ("127.0.0.1", 0)


def WSPConnect(c, addr, caller_data=None, callee_data=None, sqos=None, gqos=None):
    """Connect to a listener on this loopback (TCP), or set the default peer (UDP)."""
    b, port = _addr(addr)
    if c.state == _LISTENING:
        raise WSAError(WSAEINVAL, "connect on a listening socket")
    if c.typ == _SOCK_DGRAM:
        if not any(b) and not port:
            c.peer = None  # Winsock: connecting to the null address dissolves the association
            return 0
        _implicit_bind(c)
        c.host = _me(c)[0]  # connected: the local address is the loopback's, as getsockname then reports
        c.peer = (addr[0], port)
        return 0
    if c.state == _CONNECTED:
        raise WSAError(WSAEISCONN)
    if not port or not any(b):
        raise WSAError(WSAEADDRNOTAVAIL, "connect to %r" % (addr,))
    ls = _ports.get((_SOCK_STREAM, port)) if b[0] == 127 else None
    if ls is None or ls.state != _LISTENING or len(ls.backlog) >= ls.limit:
        if c.nonblock:
            c.state = _FAILED
            c.error = WSAECONNREFUSED
            raise WSAError(WSAEWOULDBLOCK)
        raise WSAError(WSAECONNREFUSED, "nothing listens on port %d" % port)
    _implicit_bind(c)
    c.host = _me(c)[0]
    s = _Sock(_SOCK_STREAM, ls.entry)
    s.host, s.port = _me(ls)
    s.state = c.state = _CONNECTED
    s.peer, c.peer = c, s
    ls.backlog.append(s)
    if c.nonblock:
        raise WSAError(WSAEWOULDBLOCK)  # Winsock: a non-blocking connect completes later (writable)
    return 0


def _check_send(c):
    if c.shut & 2:
        raise WSAError(WSAESHUTDOWN)
    if c.typ == _SOCK_STREAM:
        if c.reset:
            raise WSAError(WSAECONNRESET)
        if c.state != _CONNECTED:
            raise WSAError(WSAENOTCONN)


def _send_stream(c, data, nonblock):
    sent = 0
    while True:
        p = c.peer
        if c.reset or p is None or p.state == _CLOSED or p.shut & 1:
            c.reset = True
            raise WSAError(WSAECONNRESET, "the peer closed")
        room = _BUF - len(p.rx)
        if room > 0:
            n = min(room, len(data) - sent)
            p.rx += data[sent : sent + n]
            sent += n
        if sent == len(data):
            return sent
        if sent and nonblock:
            return sent  # a non-blocking send takes what fits
        _wait(c, lambda: _writable(c), nonblock, c.sndtimeo)


def _send_dgram(c, data, addr):
    if len(data) > _MAX_DGRAM:
        raise WSAError(WSAEMSGSIZE, "%d bytes" % len(data))
    b, port = _addr(addr)
    if not port:
        raise WSAError(WSAEADDRNOTAVAIL, "port 0")
    _implicit_bind(c)
    t = _ports.get((_SOCK_DGRAM, port)) if b[0] == 127 else None
    if t is not None and not t.shut & 1 and len(t.rx) < _DGRAM_QUEUE:
        frm = _me(c)
        if t.peer is None or t.peer == frm:
            t.rx.append((bytes(data), frm))
    return len(data)


def WSPSend(c, buffers, flags, ov=None, cr=None, thread_id=None):
    """Send on a connected socket; returns the count."""
    _flags(flags, _SEND_FLAGS)
    _no_overlapped(ov, cr)
    data = _source(buffers)
    _check_send(c)
    if c.typ == _SOCK_DGRAM:
        if c.peer is None:
            raise WSAError(WSAENOTCONN)
        return _send_dgram(c, data, c.peer)
    return _send_stream(c, data, c.nonblock or flags & _MSG_DONTWAIT)


def WSPSendTo(c, buffers, flags, addr, ov=None, cr=None, thread_id=None):
    """Send a datagram to addr (on a stream socket addr is ignored, as Winsock does)."""
    _flags(flags, _SEND_FLAGS)
    _no_overlapped(ov, cr)
    data = _source(buffers)
    _check_send(c)
    if c.typ == _SOCK_STREAM:
        return _send_stream(c, data, c.nonblock or flags & _MSG_DONTWAIT)
    if addr is None:
        if c.peer is None:
            raise WSAError(WSAENOTCONN)
        addr = c.peer
    return _send_dgram(c, data, addr)


def _recv(c, buffers, flags):
    _flags(flags, _RECV_FLAGS)
    mvs = _targets(buffers)
    want = buffers if mvs is None else _room(mvs)
    nonblock = c.nonblock or flags & _MSG_DONTWAIT
    if c.typ == _SOCK_DGRAM:
        if not c.port:
            raise WSAError(WSAEINVAL, "receive before bind")
        _wait(c, lambda: bool(c.rx), nonblock, c.rcvtimeo)
        data, frm = c.rx[0] if flags & _MSG_PEEK else c.rx.pop(0)
        if len(data) > want:
            if mvs is None:
                return data[:want], frm  # recv(n) of a longer datagram: its first n bytes, as Winsock's recv
            _deliver(data[:want], mvs)
            raise WSAError(WSAEMSGSIZE, "a %d-byte datagram does not fit %d bytes" % (len(data), want))
        return _deliver(data, mvs), frm
    if c.state == _LISTENING or c.state == _NEW or c.state == _FAILED:
        raise WSAError(WSAENOTCONN)
    if c.shut & 1:
        raise WSAError(WSAESHUTDOWN)
    full = want if flags & _MSG_WAITALL and not nonblock else 1
    _wait(c, lambda: len(c.rx) >= full or c.eof or c.reset, nonblock, c.rcvtimeo)
    if c.reset and not c.rx:
        raise WSAError(WSAECONNRESET, "the peer reset the connection")
    n = min(want, len(c.rx))
    data = bytes(c.rx[:n])
    if not flags & _MSG_PEEK:
        c.rx[:n] = b""
    return _deliver(data, mvs), _me(c.peer) if c.peer is not None else None


def WSPRecv(c, buffers, flags, ov=None, cr=None, thread_id=None):
    """Receive into buffers (or an int n: into new bytes); returns (count or data, flags)."""
    _no_overlapped(ov, cr)
    return _recv(c, buffers, flags)[0], 0


def WSPRecvFrom(c, buffers, flags, ov=None, cr=None, thread_id=None):
    """Receive a datagram (or stream bytes); returns (count or data, flags, sender address)."""
    _no_overlapped(ov, cr)
    got, frm = _recv(c, buffers, flags)
    return got, 0, frm


def WSPSelect(reads, writes, excepts, ms):
    """Which contexts are ready, waiting up to ms milliseconds (None: until one is)."""
    t0 = ticks_ms()
    while True:
        r = [c for c in reads or () if _readable(c)]
        w = [c for c in writes or () if _writable(c)]
        x = [c for c in excepts or () if _exceptional(c)]
        if r or w or x or ms == 0 or (ms is not None and _elapsed(t0) >= ms):
            return r, w, x
        sleep_ms(_SLICE_MS)


def WSPShutdown(c, how):
    """Stop receiving (SD_RECEIVE), sending (SD_SEND: the peer reads end of stream) or both."""
    if how not in (_SD_RECEIVE, _SD_SEND, _SD_BOTH):
        raise WSAError(WSAEINVAL, "how %r" % (how,))
    if c.typ == _SOCK_STREAM and c.state != _CONNECTED:
        raise WSAError(WSAENOTCONN)
    if how != _SD_SEND:
        c.shut |= 1
    if how != _SD_RECEIVE:
        c.shut |= 2
        if c.typ == _SOCK_STREAM and c.peer is not None:
            c.peer.eof = True
    return 0


def WSPCloseSocket(c):
    """Close: the peer reads end of stream (or a reset when data was left unread); free the port and handle."""
    try:
        if c.state == _LISTENING:
            for s in c.backlog:
                s.state = _CLOSED
                if s.peer is not None:
                    s.peer.reset = True
            c.backlog = None
        p = c.peer if c.typ == _SOCK_STREAM else None
        if p is not None:
            if c.rx:
                p.reset = True  # Winsock sends a reset when a socket is closed with unread data
            p.eof = True
            p.peer = None if p.reset else p.peer
        if c.port and _ports.get((c.typ, c.port)) is c:
            del _ports[(c.typ, c.port)]
        c.state = _CLOSED
        c.rx = bytearray()
    finally:
        _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


def WSPGetSockName(c):
    """The bound address; WSAEINVAL before bind."""
    if not c.port:
        raise WSAError(WSAEINVAL, "not bound")
    return (c.host, c.port)


def WSPGetPeerName(c):
    """The connected peer's address; WSAENOTCONN when there is none."""
    if c.typ == _SOCK_DGRAM:
        if c.peer is None:
            raise WSAError(WSAENOTCONN)
        return c.peer
    if c.state != _CONNECTED or c.peer is None:
        raise WSAError(WSAENOTCONN)
    return _me(c.peer)


def WSPGetSockOpt(c, level, name):
    """SO_TYPE, SO_ERROR (read once), SO_ACCEPTCONN, SO_PROTOCOL_INFO, timeouts, buffer sizes, kept BOOLs."""
    if level == _SOL_SOCKET:
        if name == _SO_TYPE:
            return c.typ
        if name == _SO_ERROR:
            e, c.error = c.error, 0
            return e
        if name == _SO_ACCEPTCONN:
            return 1 if c.state == _LISTENING else 0
        if name == _SO_RCVTIMEO:
            return c.rcvtimeo
        if name == _SO_SNDTIMEO:
            return c.sndtimeo
        if name in (_SO_RCVBUF, _SO_SNDBUF):
            return c.opts.get(name, _BUF)
        if name in _KEPT_OPTS:
            return c.opts.get(name, 0)
        if name == _SO_PROTOCOL_INFO:
            from ws2 import catalog
            from ws2.protocol_info import from_tuple

            return from_tuple(catalog.by_id(c.entry))
    elif level == _IPPROTO_TCP_LEVEL and name == _TCP_NODELAY and c.typ == _SOCK_STREAM:
        return c.opts.get(("tcp", name), 0)
    raise WSAError(WSAENOPROTOOPT, "option %r at level %r" % (name, level))


def WSPSetSockOpt(c, level, name, value):
    """Set timeouts (ms), buffer sizes and BOOL options (kept and read back; the loopback needs none of them)."""
    if level == _SOL_SOCKET:
        if name in (_SO_RCVTIMEO, _SO_SNDTIMEO):
            if type(value) is not int or value < 0:
                raise WSAError(WSAEFAULT, "a timeout is a DWORD of milliseconds")
            if name == _SO_RCVTIMEO:
                c.rcvtimeo = value
            else:
                c.sndtimeo = value
            return 0
        if name in (_SO_RCVBUF, _SO_SNDBUF) or name in _KEPT_OPTS:
            c.opts[name] = value
            return 0
        if name in (_SO_TYPE, _SO_ERROR, _SO_ACCEPTCONN):
            raise WSAError(WSAENOPROTOOPT, "option %d is read-only" % name)
    elif level == _IPPROTO_TCP_LEVEL and name == _TCP_NODELAY and c.typ == _SOCK_STREAM:
        c.opts[("tcp", name)] = value
        return 0
    raise WSAError(WSAENOPROTOOPT, "option %r at level %r" % (name, level))


def WSPIoctl(c, code, in_data, out_len, ov=None, cr=None, thread_id=None):
    """FIONBIO and FIONREAD; WSAEOPNOTSUPP for SIO_* codes (the router then selects through WSPSelect)."""
    if type(code) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    code &= 0xFFFFFFFF
    if code == _FIONBIO:
        if type(in_data) is not int:
            raise WSAError(WSAEFAULT, "FIONBIO takes an int")
        c.nonblock = bool(in_data)
        return None
    if code == _FIONREAD:
        if c.typ == _SOCK_DGRAM:
            return len(c.rx[0][0]) if c.rx else 0
        return len(c.rx)
    if (code >> 27) & 3:
        raise WSAError(WSAEOPNOTSUPP, "ioctl 0x%x" % code)
    raise WSAError(WSAEINVAL, "ioctl 0x%x" % code)


def WSPAddressToString(addr, info=None):
    """'a.b.c.d' or 'a.b.c.d:port'."""
    b, port = _addr(addr)
    return addr[0] + (":%d" % port if port else "")


def WSPStringToAddress(text, af, info=None):
    """'a.b.c.d[:port]' as (host, port)."""
    if type(text) is not str:
        raise WSAError(WSAEFAULT, "not a string")
    if af not in (_AF_INET, 0):
        raise WSAError(WSAEINVAL, "address family %r" % (af,))
    host, _, port = text.partition(":")
    if _ip4(host) is None or (port and not port.isdigit()) or int(port or 0) > 65535:
        raise WSAError(WSAEINVAL, "%r is not an IPv4 address" % text)
    return (host, int(port or 0))


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP, "not available on the loopback provider")


def _no_blocking_call():
    return 0


def WSPCleanup():
    """Match one WSPStartup; the last one closes nothing (the router closed our sockets) but forgets ports."""
    global _starts, _upcalls
    if _starts <= 0:
        raise WSAError(WSAEINVAL, "WSPCleanup without WSPStartup")
    _starts -= 1
    if not _starts:
        _ports.clear()
        _upcalls = None
    return 0


def _table():
    # The proc table, slot by name (ws2.spiconst). The slots not named here refuse: what the router
    # runs itself (async select, events, overlapped I/O) or the loopback lacks (duplication, QoS,
    # multipoint, disconnect data).
    from ws2 import spiconst as s

    t = [_unsupported] * s.WSP_TABLE_SIZE
    for slot, f in (
            (s.WSP_ACCEPT, WSPAccept), (s.WSP_ADDRESSTOSTRING, WSPAddressToString), (s.WSP_BIND, WSPBind),
            (s.WSP_CANCELBLOCKINGCALL, _no_blocking_call), (s.WSP_CLEANUP, WSPCleanup),
            (s.WSP_CLOSESOCKET, WSPCloseSocket), (s.WSP_CONNECT, WSPConnect), (s.WSP_GETPEERNAME, WSPGetPeerName),
            (s.WSP_GETSOCKNAME, WSPGetSockName), (s.WSP_GETSOCKOPT, WSPGetSockOpt), (s.WSP_IOCTL, WSPIoctl),
            (s.WSP_LISTEN, WSPListen), (s.WSP_RECV, WSPRecv), (s.WSP_RECVFROM, WSPRecvFrom),
            (s.WSP_SELECT, WSPSelect), (s.WSP_SEND, WSPSend), (s.WSP_SENDTO, WSPSendTo),
            (s.WSP_SETSOCKOPT, WSPSetSockOpt), (s.WSP_SHUTDOWN, WSPShutdown), (s.WSP_SOCKET, WSPSocket),
            (s.WSP_STRINGTOADDRESS, WSPStringToAddress)):
        t[slot] = f
    return tuple(t)


_TABLE = _table()


def WSPStartup(version, protocol_info, upcalls):
    """The entry point: ((version, high version, description), proc table)."""
    global _upcalls, _starts
    if version != _VERSION:
        raise WSAError(WSAVERNOTSUPPORTED, "version 0x%04x" % version)
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 loopback [TCP/UDP on 127.0.0.1 in memory]"), _TABLE


def install(first=True):
    """Install the loopback's TCP and UDP entries (once); first=True puts them before every other entry.

    Returns their catalog ids. ws2.WSCDeinstallProvider(loopback.GUID) or ws2.catalog.reset() undoes it.
    """
    import ws2

    info = ws2.WSAProtocolInfo
    mine = [e.catalog_entry_id for e in ws2.WSCEnumProtocols() if e.provider_id == GUID]
    if not mine:
        mine = ws2.WSCInstallProvider(GUID, PATH, [
            info(protocol_chain=(1,), address_family=_AF_INET, socket_type=_SOCK_STREAM, protocol=_IPPROTO_TCP,
                 service_flags1=0x26, provider_flags=0x08, protocol_name="ws2 loopback [TCP/IP]"),
            info(protocol_chain=(1,), address_family=_AF_INET, socket_type=_SOCK_DGRAM, protocol=_IPPROTO_UDP,
                 service_flags1=0x609, provider_flags=0x08, message_size=_MAX_DGRAM,
                 protocol_name="ws2 loopback [UDP/IP]"),
        ])
    if first:
        rest = [e.catalog_entry_id for e in ws2.WSCEnumProtocols() if e.catalog_entry_id not in mine]
        ws2.WSCWriteProviderOrder(list(mine) + rest)
    return list(mine)

