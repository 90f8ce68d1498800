# providers/ssllsp/sock: the socket calls of the TLS layer: plain pass-through until SO_SECURE, TLS after.
# MIT licence; part of ws2 for MicroPython.
#
# Blocking sockets handshake inside connect/accept/SO_SSL_PERFORM_HANDSHAKE.
# Non-blocking ones start the handshake there and finish it in the send/recv
# calls that follow (WSAEWOULDBLOCK meanwhile), as MicroPython's asyncio does.
# Decrypted bytes read ahead (MSG_PEEK, select, FIONREAD) wait in a stash, so
# FD_READ means decrypted data is there.
from providers import layer
from providers.ssllsp.conn import Conn, drive, engine, flush, live, start
from ws2.errors import (WSAError, WSAECONNABORTED, WSAEINVAL, WSAEISCONN, WSAENOBUFS, WSAENOTCONN, WSAEOPNOTSUPP,
                        WSAESOCKTNOSUPPORT, WSAEWOULDBLOCK)
from ws2.port import const, sleep_ms, ticks_diff, ticks_ms

_WSP_ACCEPT = const(0)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_LISTEN = const(18)
_WSP_RECV = const(19)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SETSOCKOPT = const(26)
_SOCK_STREAM = const(1)
_FROM_PROTOCOL_INFO = const(-1)
_SOL_SOCKET = const(0xFFFF)
_SO_ERROR = const(0x1007)
_SO_SECURE = const(0x2001)
_SO_SEC_NONE = const(0x2002)
_SO_SEC_SSL = const(0x2004)
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_MSG_WAITALL = const(0x8)
_MSG_DONTWAIT = const(0x40)
_SSL_FAMILY_MASK = const(0x1FFF0000)
_SO_SSL = const(0x10730000)
_SO_SSL_GET_FLAGS = const(0x50730002)
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)
_SSL_FLAG_SERVER = const(2)
_SSL_FLAG_DEFER_HANDSHAKE = const(8)
_STASH = const(512)  # decrypted bytes a peek/select reads ahead
_MAX_RECV = const(16384)  # one TLS record: a bigger recv(n) returns what one record holds
_NB_CHUNK = const(4096)  # plaintext per non-blocking send, so the outbox stays small
_SO_SSL_GET_CAPABILITIES = const(0x50730001)
_SO_SSL_SET_FLAGS = const(0x90730002)
_SO_SSL_GET_VALIDATE_CERT_HOOK = const(0x50730008)
_SO_SSL_SET_VALIDATE_CERT_HOOK = const(0x90730008)
_SO_SSL_PERFORM_HANDSHAKE = const(0x1073000D)
_SO_SSL_GET_CONNECTION_INFO = const(0x5073000E)
_SO_SSL_SET_PEERNAME = const(0x9073000F)
_SO_SSL_SET_SERVER_CERT = const(0x90730010)
_SO_SSL_SET_CA_CERTS = const(0x90730011)  # ws2 extension (no CE code): this socket's trusted CAs, PEM or DER
_SSL_CAPS = const(3)  # SSL_CAP_CLIENT | SSL_CAP_SERVER
_SSL_FLAG_AUTH_CLIENT = const(4)
_SSL_KNOWN_FLAGS = const(0x1000A)
_CE_CODES = const(0x0B)  # the low byte of the last SO_SSL code Windows CE defines
_DONE = const(0x10)
_SLICE_MS = const(10)  # how long a select over several lower providers sleeps between looks
NAME = "ssllsp"

_READ = const(0)
_WRITE = const(1)
_SECURE = const(0x01)
_CONNECTED = const(0x02)
_LISTENING = const(0x04)
_STARTED = const(0x08)
_NONBLOCK = const(0x20)
_DEAD = const(0x40)
_WANT_IN = const(0x100)
_ADOPTED = const(0x200)

def _context(c):
    from providers.ssllsp.certs import context

    return context(c)


def WSPSocket(af, typ, proto, info, group, flags):
    """Create a stream socket below, and ours over it (plain until SO_SECURE)."""
    if typ in (0, _FROM_PROTOCOL_INFO):
        typ = info.socket_type
    if typ != _SOCK_STREAM:
        raise WSAError(WSAESOCKTNOSUPPORT, "ssllsp layers TLS over stream sockets only, not type %d" % typ)
    return layer.socket(Conn, af, typ, proto, info, group, flags, NAME).handle


def WSPAdoptSocket(lower_handle, info, handle):
    """ws2 re-homing (ws2/rehome): our context, plain until SO_SECURE, over an open TCP socket; it answers to handle."""
    c = layer.adopt_open(Conn, lower_handle, info, handle, NAME)
    try:
        c.host = c.lt[_WSP_GETPEERNAME](c.lc)[0]  # connected already (the socket drop-in wraps after connect)
        c.state |= _CONNECTED | _ADOPTED
    except WSAError:
        pass
    return c


def WSPCloseSocket(c):
    """End TLS (close_notify where the engine can send one), close the lower socket, free the handle."""
    try:
        if c.eng is not None:
            try:
                c.eng.close(c, True)
            except Exception:
                pass
            c.eng = None
        if c.lc is not None:
            c.lt[_WSP_CLOSESOCKET](c.lc)
            c.lc = None
    finally:
        layer.up.WPUCloseSocketHandle(c.handle)
    return 0


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect below; a secure socket then handshakes (unless deferred)."""
    live(c)
    tls = c.state & _SECURE and not c.sslf & _SSL_FLAG_DEFER_HANDSHAKE
    ctx = _context(c) if tls else None  # refuse a bad configuration before any packet goes out
    pending = None
    try:
        c.lt[_WSP_CONNECT](c.lc, addr, caller_data, callee_data, sqos, gqos)
    except WSAError as e:
        if e.args[0] != WSAEWOULDBLOCK:
            raise
        pending = e
    c.state |= _CONNECTED
    c.host = addr[0] if isinstance(addr, tuple) and addr else None
    if tls:
        start(c, ctx, pending is None)
    if pending is not None:
        raise pending
    return 0


def WSPListen(c, backlog):
    """Listen below; accepted sockets inherit the TLS settings."""
    live(c)
    if c.state & _SECURE and c.cert is None and not c.sslf & _SSL_FLAG_DEFER_HANDSHAKE:
        raise WSAError(WSAEINVAL, "ssllsp: a TLS server needs WSAIoctl(s, SO_SSL_SET_SERVER_CERT, (cert, key))")
    c.lt[_WSP_LISTEN](c.lc, backlog)
    c.state |= _LISTENING
    return 0


def WSPAccept(c, condition, callback_data):
    """Accept below; on a secure listening socket the new one handshakes as a server (unless deferred)."""
    live(c)
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    n = layer.adopt(Conn, c.lt, lh, c.entry)
    n.state = (c.state & (_SECURE | _NONBLOCK)) | _CONNECTED
    n.sslf = c.sslf | _SSL_FLAG_SERVER
    n.cert = c.cert
    n.hook = c.hook
    if n.state & _SECURE and not n.sslf & _SSL_FLAG_DEFER_HANDSHAKE:
        try:
            if c.srv is None:
                c.srv = _context(n)
            n.srv = c.srv
            start(n, c.srv, not n.state & _NONBLOCK)
        except Exception as e:
            # The client failed its handshake: it never becomes an accepted socket.
            try:
                WSPCloseSocket(n)
            except Exception:
                pass
            if isinstance(e, WSAError) and e.args[0] in (WSAEINVAL, WSAEOPNOTSUPP, WSAENOBUFS):
                raise
            raise WSAError(WSAECONNABORTED, "TLS handshake with %r failed: %s" % (addr, e))
    return n.handle, addr


def _take(c, n, peek):
    s = c.stash
    k = min(n, len(s))
    if not peek:
        c.stash = s[k:] if k < len(s) else None
    return s[:k]


def _fill_stash(c, want, nb):
    # Read ahead up to want decrypted bytes into the stash (WSAEWOULDBLOCK when none come at once).
    have = len(c.stash) if c.stash else 0
    if have < want:
        buf = bytearray(min(max(want - have, _STASH), _MAX_RECV))  # what one record gives, so recv gets it all
        try:
            n = drive(c, _READ, buf, nb)
        except WSAError as e:
            if not have or e.args[0] != WSAEWOULDBLOCK:
                raise
            n = 0  # a peek returns the bytes already read ahead, as a recv would
        if n:
            c.stash = (c.stash or b"") + bytes(memoryview(buf)[:n])


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive (decrypted, once secure); buffers: a writable buffer, a list of them, or an int n."""
    live(c)
    if c.eng is None:
        return c.lt[_WSP_RECV](c.lc, buffers, flags, ov, cr, tid)
    if flags & ~(_MSG_PEEK | _MSG_DONTWAIT | _MSG_WAITALL) or flags & _MSG_OOB:
        raise WSAError(WSAEOPNOTSUPP, "TLS sockets take MSG_PEEK, MSG_WAITALL and MSG_DONTWAIT only")
    nb = c.state & _NONBLOCK or flags & _MSG_DONTWAIT
    want = buffers if isinstance(buffers, int) else None
    if isinstance(buffers, (list, tuple)):  # scatter: the first buffer with room gets what one call yields
        buffers = [b for b in buffers if len(memoryview(b))][:1] or [bytearray(0)]
        buffers = buffers[0]
    if want is None:
        mv = memoryview(buffers)
        want = len(mv)
    if want < 0:
        raise WSAError(WSAEINVAL, "negative receive size")
    want = min(want, _MAX_RECV) if isinstance(buffers, int) else want
    if flags & _MSG_PEEK or c.stash:
        if flags & _MSG_PEEK and want:
            _fill_stash(c, want, nb)
        data = _take(c, want, flags & _MSG_PEEK) if c.stash else b""
        if isinstance(buffers, int):
            return bytes(data), 0
        mv[: len(data)] = data
        return len(data), 0
    if isinstance(buffers, int):
        buf = bytearray(want)
        n = drive(c, _READ, buf, nb) if want else 0
        return bytes(memoryview(buf)[:n]), 0
    if not want:
        return 0, 0
    n = drive(c, _READ, mv, nb)
    while flags & _MSG_WAITALL and n and n < want:
        k = drive(c, _READ, mv[n:], nb)
        if not k:
            break
        n += k
    return n, 0


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Stream sockets: recv, with the peer's address."""
    r = WSPRecv(c, buffers, flags, ov, cr, tid)
    return r[0], r[1], c.lt[_WSP_GETPEERNAME](c.lc)


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send (encrypted, once secure); a blocking send sends everything."""
    live(c)
    if c.eng is None:
        return c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)
    if flags & ~_MSG_DONTWAIT:
        raise WSAError(WSAEOPNOTSUPP, "TLS sockets take MSG_DONTWAIT only")
    if isinstance(buffers, (list, tuple)):
        total = 0
        for b in buffers:
            k = WSPSend(c, b, flags, ov, cr, tid)
            total += k
            if k < len(memoryview(b)):
                break
        return total
    nb = c.state & _NONBLOCK or flags & _MSG_DONTWAIT
    mv = memoryview(buffers)
    if not len(mv):
        return 0
    if nb:
        if c.out:
            flush(c, False)
            if c.out:
                raise WSAError(WSAEWOULDBLOCK)
        mv = mv[:_NB_CHUNK]
    n = drive(c, _WRITE, mv, nb)
    if not nb and c.out:
        flush(c, True)
    return n


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Stream sockets: send (the address is ignored)."""
    return WSPSend(c, buffers, flags, ov, cr, tid)


def WSPSetSockOpt(c, level, name, value):
    """SO_SECURE is ours; every other option belongs to the lower socket."""
    live(c)
    if level != _SOL_SOCKET or name != _SO_SECURE:
        return c.lt[_WSP_SETSOCKOPT](c.lc, level, name, value)
    if value not in (_SO_SEC_SSL, _SO_SEC_NONE):
        raise WSAError(WSAEINVAL, "SO_SECURE takes SO_SEC_SSL or SO_SEC_NONE, not %r" % (value,))
    # A socket connected before it came here (re-homed by the socket drop-in) has not started TLS yet.
    if c.state & _STARTED or c.state & (_CONNECTED | _ADOPTED) == _CONNECTED:
        raise WSAError(WSAEISCONN, "SO_SECURE must be set before connect")
    if value == _SO_SEC_SSL:
        from providers.ssllsp.certs import tlsmod

        tlsmod()
        engine()  # loaded now, while the heap is not yet taken by a handshake's buffers
        c.state |= _SECURE
    else:
        c.state &= ~_SECURE
    return 0


def WSPGetSockOpt(c, level, name):
    """SO_SECURE, and SO_ERROR of a failed TLS session, are ours; the rest come from below."""
    if level == _SOL_SOCKET and name == _SO_SECURE:
        return _SO_SEC_SSL if c.state & _SECURE else _SO_SEC_NONE
    if c.lc is None:
        if level == _SOL_SOCKET and name == _SO_ERROR:
            code, c.fail = c.fail[0], (0, c.fail[1])
            return code
        live(c)
    return c.lt[_WSP_GETSOCKOPT](c.lc, level, name)


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """SO_SSL_* ioctls are ours; FIONBIO is noted and passed on; others go to the lower socket."""
    if code & _SSL_FAMILY_MASK == _SO_SSL:
        if c.state & _DEAD and code != _SO_SSL_GET_FLAGS:
            live(c)
        return _ssl_ioctl(c, code, in_data)
    if code == _SIO_SET_SOCKET_HANDLE:
        return layer.ioctl(c, code, in_data, out_len, ov, cr, tid)  # re-homed: we answer to a new handle
    live(c)
    if code == _FIONREAD and c.eng is not None:
        try:
            _fill_stash(c, _STASH, True)
        except WSAError as e:
            if e.args[0] != WSAEWOULDBLOCK:
                raise
        return len(c.stash) if c.stash else 0
    r = c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)
    if code == _FIONBIO:
        c.state = (c.state | _NONBLOCK) if in_data else (c.state & ~_NONBLOCK)
    return r


# -- the SO_SSL_* ioctls of Windows CE's sslsock.h (values in ws2/tlsconst.py; docs/spi.md)

def _in_str(v, what):
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode()
    if not isinstance(v, str) or not v or "\x00" in v:
        raise WSAError(WSAEINVAL, "%s must be a non-empty str, not %r" % (what, v))
    return v


def _ssl_ioctl(c, code, arg):
    """WSAIoctl(SO_SSL_*) on c: get or set a TLS option, or run the deferred handshake."""
    if code == _SO_SSL_GET_CAPABILITIES:
        return _SSL_CAPS
    if code == _SO_SSL_GET_FLAGS:
        return c.sslf
    if code == _SO_SSL_GET_VALIDATE_CERT_HOOK:
        return c.hook
    if code not in (_SO_SSL_SET_FLAGS, _SO_SSL_SET_VALIDATE_CERT_HOOK, _SO_SSL_SET_PEERNAME,
                    _SO_SSL_SET_SERVER_CERT, _SO_SSL_PERFORM_HANDSHAKE, _SO_SSL_GET_CONNECTION_INFO,
                    _SO_SSL_SET_CA_CERTS):
        if code & 0xFF <= _CE_CODES:
            raise WSAError(WSAEOPNOTSUPP, "SO_SSL ioctl 0x%08x is not supported by ssllsp" % code)
        raise WSAError(WSAEINVAL, "unknown SO_SSL ioctl 0x%08x" % code)
    if not c.state & _SECURE:
        raise WSAError(WSAEINVAL, "not a secure socket: setsockopt(s, SOL_SOCKET, SO_SECURE, SO_SEC_SSL) first")
    if code == _SO_SSL_GET_CONNECTION_INFO:
        if not c.state & _DONE:
            raise WSAError(WSAENOTCONN, "the TLS handshake has not completed")
        return _connection_info(c)
    if c.state & _STARTED:
        raise WSAError(WSAEISCONN, "the TLS handshake has started: set SSL options before it")
    if code == _SO_SSL_PERFORM_HANDSHAKE:
        if not c.state & _CONNECTED:
            raise WSAError(WSAENOTCONN, "SO_SSL_PERFORM_HANDSHAKE needs a connected socket")
        if arg is not None:
            c.peer = _in_str(arg, "the server name")
        start(c, _context(c), not c.state & _NONBLOCK)
        return None
    if code == _SO_SSL_SET_FLAGS:
        if not isinstance(arg, int) or arg & ~_SSL_KNOWN_FLAGS:
            if isinstance(arg, int) and arg & _SSL_FLAG_AUTH_CLIENT:
                raise WSAError(WSAEOPNOTSUPP, "ssllsp does not authenticate clients (SSL_FLAG_AUTH_CLIENT)")
            raise WSAError(WSAEINVAL, "unknown SSL flags %r" % (arg,))
        c.sslf = arg
    elif code == _SO_SSL_SET_VALIDATE_CERT_HOOK:
        if arg is not None and not callable(arg):
            raise WSAError(WSAEINVAL, "the validation hook must be callable(chain, flags) or None")
        c.hook = arg
    elif code == _SO_SSL_SET_PEERNAME:
        c.peer = _in_str(arg, "the peer name")
    elif code == _SO_SSL_SET_CA_CERTS:
        from providers.ssllsp.certs import der

        ders = der(bytes(arg), b"CERTIFICATE") if isinstance(arg, (bytes, bytearray)) and arg else None
        if not ders:
            raise WSAError(WSAEINVAL, "SO_SSL_SET_CA_CERTS takes PEM or DER certificate bytes")
        c.ca = ders
    else:
        if not isinstance(arg, (tuple, list)) or len(arg) != 2 or \
                not all(isinstance(v, (str, bytes, bytearray)) for v in arg):
            raise WSAError(WSAEINVAL, "SO_SSL_SET_SERVER_CERT takes (certificate, key): file paths or PEM/DER bytes")
        c.cert = (arg[0], arg[1])
        c.srv = None
    return None


def _connection_info(c):
    # (SSLCONNECTIONINFO.dwProtocol, cipher suite name, protocol version name)
    cipher, version = c.eng.info()
    bits = {"TLSv1": 0x80, "TLSv1.1": 0x200, "TLSv1.2": 0x800, "TLSv1.3": 0x2000}.get(version, 0)
    if c.sslf & _SSL_FLAG_SERVER:
        bits >>= 1
    return bits, cipher, version


def _ready(c):
    # Readable without waiting: decrypted bytes, the end of the stream, a failure (recv reports it), a plain socket.
    if c.eng is None or c.stash:
        return True
    try:
        _fill_stash(c, 1, True)
        return True
    except WSAError as e:
        if e.args[0] == WSAEWOULDBLOCK:
            return c.eng is not None and c.eng.eof()  # a partial record or a handshake message: not yet
        return True


def WSPSelect(r, w, x, ms):
    """select for ssllsp sockets: readable means decrypted data (or the end) is there, not merely ciphertext."""
    t0 = ticks_ms()
    while True:
        rr = [c for c in r if c.state & _DEAD or c.stash]
        groups = {}  # id(lower table) -> [table, read, write, except] lower contexts
        back = {}
        for k, cs in ((1, r), (2, w), (3, x)):
            for c in cs:
                if c.lc is None:
                    continue
                kk = k
                if k == 2 and c.state & _WANT_IN and not c.out:
                    kk = 1  # the handshake waits for the peer: a send can go on once input comes
                g = groups.get(id(c.lt))
                if g is None:
                    g = groups[id(c.lt)] = [c.lt, [], [], []]
                if c.lc not in g[kk]:
                    g[kk].append(c.lc)
                back[id(c.lc)] = c
        if not groups:
            return rr, [], []
        left = 0 if rr else (None if ms is None else max(0, ms - ticks_diff(ticks_ms(), t0)))
        ww = []
        xx = []
        for g in groups.values():
            # Several lower providers: no single wait covers them all, so look in short slices.
            gr, gw, gx = g[0][_WSP_SELECT](g[1], g[2], g[3], left if len(groups) == 1 else 0)
            for lc in gr:
                c = back[id(lc)]
                if c in w and c not in ww:
                    ww.append(c)
                if c in r and c not in rr and _ready(c):
                    rr.append(c)
            for lc in gw:
                if back[id(lc)] not in ww:
                    ww.append(back[id(lc)])
            for lc in gx:
                xx.append(back[id(lc)])
        if rr or ww or xx or left == 0 or (ms is not None and ticks_diff(ticks_ms(), t0) >= ms):
            return rr, ww, xx
        if len(groups) > 1:
            sleep_ms(_SLICE_MS)


def down(i):
    """The pass-through for proc-table slot i: the same call on the lower socket (refused once TLS failed)."""

    def call(c, *args):
        live(c)
        return c.lt[i](c.lc, *args)

    return call
