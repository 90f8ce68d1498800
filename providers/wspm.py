# providers/wspm: the base TCP/UDP transport provider over MicroPython's (lwIP) socket module.
# MIT licence; part of ws2 for MicroPython. Named after Windows CE's wspm.dll.
#
# Non-IFS, as on CE: each socket's context is a _Sock holding the native
# socket and what the native layer cannot tell us (no port has getsockname,
# shutdown or getsockopt), and the router handle comes from
# WPUCreateSocketHandle. Runs on esp32, rp2, unix MicroPython and CPython; the
# differences (address formats, errno values, missing methods) are handled in
# _native_addr/_from_native and in ws2.errors' one errno table.
import socket as _so
import sys

from ws2.errors import (WSAError, WSAEADDRINUSE, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL,
                        WSAEISCONN, WSAEMSGSIZE, WSAENOPROTOOPT, WSAENOTCONN, WSAENOTSOCK,
                        WSAEOPNOTSUPP, WSAESHUTDOWN, WSAESOCKTNOSUPPORT, WSAETIMEDOUT,
                        WSAEWOULDBLOCK, WSANOTINITIALISED, WSASYSCALLFAILURE, WSAEDESTADDRREQ,
                        WSAEPROTONOSUPPORT, wsa_code)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_FROM_PROTOCOL_INFO = const(-1)
_FLAG_OVERLAPPED = const(0x01)
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_MSG_DONTWAIT = const(0x40)
_CF_ACCEPT = const(0)
_CF_REJECT = const(1)
_CF_DEFER = const(2)

# _Sock.state bits
_BOUND = const(0x01)
_LISTENING = const(0x02)
_CONNECTED = const(0x04)
_SHUT_RD = const(0x08)
_SHUT_WR = const(0x10)
_NONBLOCK = const(0x20)
_CLOSED = const(0x40)

_VERSION = const(0x0202)
_MAX_UDP = const(65507)
_MICROPYTHON = sys.implementation.name == "micropython"
# unix MicroPython takes and returns raw struct sockaddr bytes; lwIP ports and
# CPython use (ip, port) tuples (MICROPYTHON.md 1.3).
_RAW_SOCKADDR = _MICROPYTHON and hasattr(_so, "sockaddr")
_HAS_RECV_INTO = hasattr(_so.socket, "recv_into")
_NATIVE_PEEK = getattr(_so, "MSG_PEEK", 0)
_NATIVE_AF6 = getattr(_so, "AF_INET6", None)

_upcalls = None
_starts = 0


class _Sock:
    """Provider context of one socket."""

    def __init__(self, sk, af, typ, proto, catalog_id):
        self.sk = sk
        self.af = af
        self.type = typ
        self.proto = proto
        self.catalog_id = catalog_id
        self.handle = 0
        self.state = 0
        self.timeout = None  # seconds for blocking calls (None = forever)
        self.error = 0  # SO_ERROR
        self.local = None  # address bound (what getsockname reports)
        self.peer = None  # address connected to
        self.opts = None  # dict of options kept here (created on first set)


# -- addresses -------------------------------------------------------------------

def _check_addr(c, addr):
    """Validate an address tuple for c's family; return (host, port)."""
    if c.af == _AF_INET:
        if not isinstance(addr, tuple) or len(addr) != 2:
            raise WSAError(WSAEFAULT, "an IPv4 address is a (host, port) tuple, not %r" % (addr,))
    elif not isinstance(addr, tuple) or len(addr) not in (2, 4):
        raise WSAError(WSAEFAULT, "an IPv6 address is a (host, port, flowinfo, scope_id) tuple, not %r" % (addr,))
    host, port = addr[0], addr[1]
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        raise WSAError(WSAEFAULT, "address must be (str host, int port), not %r" % (addr,))
    if not 0 <= port <= 65535:
        raise WSAError(WSAEINVAL, "port %d is out of range" % port)
    if c.af == _AF_INET6 and ("." in host and ":" not in host):
        raise WSAError(WSAEAFNOSUPPORT, "%s is not an IPv6 address" % host)
    if c.af == _AF_INET and ":" in host:
        raise WSAError(WSAEAFNOSUPPORT, "%s is not an IPv4 address" % host)
    return host, port


def _native_addr(c, addr):
    host, port = _check_addr(c, addr)
    if host == "":
        host = "0.0.0.0" if c.af == _AF_INET else "::"
    if _RAW_SOCKADDR:
        try:
            return _so.getaddrinfo(host, port, c.native_af)[0][-1]
        except OSError:
            raise WSAError(WSAEINVAL, "%r is not a numeric address" % (host,))
    if c.af == _AF_INET6 and not _MICROPYTHON:
        return (host, port, addr[2] if len(addr) > 2 else 0, addr[3] if len(addr) > 3 else 0)
    return (host, port)


def _from_native(c, a):
    if a is None:
        return None
    if _RAW_SOCKADDR and not isinstance(a, tuple):
        t = _so.sockaddr(a)
        host = _so.inet_ntop(t[0], t[1])
        if t[0] == _NATIVE_AF6:
            return (host, t[2], t[3], t[4])
        return (host, t[2])
    if isinstance(a, tuple):
        if c.af == _AF_INET6:
            return (a[0], a[1], a[2] if len(a) > 2 else 0, a[3] if len(a) > 3 else 0)
        return (a[0], a[1])
    return a


# -- helpers -----------------------------------------------------------------------

def _blocking_error(c, e):
    """Map a native failure on c; EAGAIN on a socket with a timeout is a timeout."""
    code = wsa_code(e)
    if code == WSAEWOULDBLOCK and not (c.state & _NONBLOCK) and c.timeout:
        return WSAError(WSAETIMEDOUT)
    if isinstance(e, WSAError):
        return e
    return WSAError(code)


def _apply_timeout(c):
    c.sk.settimeout(0 if c.state & _NONBLOCK else c.timeout)


def _native_flags(flags):
    if flags & ~(_MSG_PEEK | _MSG_OOB | _MSG_DONTWAIT):
        raise WSAError(WSAEOPNOTSUPP, "unsupported flags 0x%x" % flags)
    if flags & _MSG_OOB:
        # lwIP has no urgent-data API: MSG_OOB cannot be honoured.
        raise WSAError(WSAEOPNOTSUPP, "MSG_OOB is not supported by lwIP")
    return _NATIVE_PEEK if flags & _MSG_PEEK else 0


def _no_overlapped(ov, cr):
    if ov is not None or cr is not None:
        raise WSAError(WSAEOPNOTSUPP, "overlapped I/O is run by the router, not wspm")


# -- proc table ------------------------------------------------------------------------

def WSPSocket(af, typ, proto, info, group, flags):
    """Create a TCP or UDP socket; 0 and FROM_PROTOCOL_INFO take the entry's values."""
    if flags & ~_FLAG_OVERLAPPED:
        raise WSAError(WSAEINVAL, "wspm supports no multipoint flags")
    if group:
        raise WSAError(WSAEINVAL, "socket groups are not supported")
    if af in (0, _FROM_PROTOCOL_INFO):
        af = info.address_family
    if typ in (0, _FROM_PROTOCOL_INFO):
        typ = info.socket_type
    if proto in (0, _FROM_PROTOCOL_INFO):
        proto = info.protocol
    if af not in (_AF_INET, _AF_INET6) or (af == _AF_INET6 and _NATIVE_AF6 is None):
        raise WSAError(WSAEAFNOSUPPORT)
    if typ == _SOCK_STREAM:
        if proto != _IPPROTO_TCP:
            raise WSAError(WSAEPROTONOSUPPORT)
        ntype = _so.SOCK_STREAM
    elif typ == _SOCK_DGRAM:
        if proto != _IPPROTO_UDP:
            raise WSAError(WSAEPROTONOSUPPORT)
        ntype = _so.SOCK_DGRAM
    else:
        raise WSAError(WSAESOCKTNOSUPPORT)
    naf = _so.AF_INET if af == _AF_INET else _NATIVE_AF6
    sk = _so.socket(naf, ntype)
    c = _Sock(sk, af, typ, proto, info.catalog_entry_id)
    c.native_af = naf
    try:
        c.handle = _upcalls.WPUCreateSocketHandle(info.catalog_entry_id, c)
    except BaseException:
        sk.close()
        raise
    return c.handle


def WSPCloseSocket(c):
    """Close the native socket and free the router handle."""
    if c.state & _CLOSED:
        raise WSAError(WSAENOTSOCK)
    c.state |= _CLOSED
    try:
        c.sk.close()
    finally:
        _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


def WSPBind(c, addr):
    """Bind to a local (host, port)."""
    if c.state & _BOUND:
        raise WSAError(WSAEINVAL, "socket is already bound")
    c.sk.bind(_native_addr(c, addr))
    c.state |= _BOUND
    c.local = addr if len(addr) == 2 or c.af == _AF_INET else tuple(addr)
    return 0


def WSPListen(c, backlog):
    """Listen on a bound stream socket."""
    if c.type != _SOCK_STREAM:
        raise WSAError(WSAEOPNOTSUPP, "listen needs a stream socket")
    if not c.state & _BOUND:
        raise WSAError(WSAEINVAL, "bind before listen")
    if c.state & _CONNECTED:
        raise WSAError(WSAEISCONN)
    if not isinstance(backlog, int) or backlog < 0:
        raise WSAError(WSAEINVAL, "backlog must be an int >= 0")
    c.sk.listen(min(max(backlog, 1), 16))
    c.state |= _LISTENING
    return 0


def WSPAccept(c, condition, callback_data):
    """Accept a connection (asking condition first); returns (handle, peer address)."""
    if not c.state & _LISTENING:
        raise WSAError(WSAEINVAL, "socket is not listening")
    _apply_timeout(c)
    while True:
        try:
            nsk, naddr = c.sk.accept()
        except OSError as e:
            raise _blocking_error(c, e)
        peer = _from_native(c, naddr)
        verdict = _CF_ACCEPT
        if condition is not None:
            verdict = condition(peer, None, None, c.local, callback_data)
        if verdict == _CF_ACCEPT:
            break
        nsk.close()  # CF_REJECT: the peer sees its connection closed
        if verdict == _CF_DEFER:
            raise WSAError(11002, "condition deferred the connection")  # WSATRY_AGAIN
        if verdict != _CF_REJECT:
            raise WSAError(WSAEINVAL, "condition returned %r" % (verdict,))
        if c.state & _NONBLOCK:
            raise WSAError(10061, "condition rejected the connection")  # WSAECONNREFUSED
    n = _Sock(nsk, c.af, c.type, c.proto, c.catalog_id)
    n.native_af = c.native_af
    n.state = _BOUND | _CONNECTED
    n.local = c.local
    n.peer = peer
    n.timeout = c.timeout
    nsk.settimeout(n.timeout)
    try:
        n.handle = _upcalls.WPUCreateSocketHandle(c.catalog_id, n)
    except BaseException:
        nsk.close()
        raise
    return n.handle, peer


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect (stream) or set the default peer (datagram)."""
    if caller_data or callee_data:
        raise WSAError(WSAEOPNOTSUPP, "wspm has no connect-time data")
    if sqos is not None or gqos is not None:
        raise WSAError(WSAEOPNOTSUPP, "wspm has no QoS")
    if c.state & _LISTENING:
        raise WSAError(WSAEINVAL, "socket is listening")
    if c.type == _SOCK_STREAM and c.state & _CONNECTED:
        raise WSAError(WSAEISCONN)
    na = _native_addr(c, addr)
    _apply_timeout(c)
    try:
        c.sk.connect(na)
    except OSError as e:
        e = _blocking_error(c, e)
        c.error = e.args[0]
        raise e
    c.state |= _CONNECTED | _BOUND
    c.peer = addr
    return 0


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send a buffer or a list of buffers; a blocking send sends everything."""
    _no_overlapped(ov, cr)
    if c.state & _SHUT_WR:
        raise WSAError(WSAESHUTDOWN)
    if not c.state & _CONNECTED:
        raise WSAError(WSAENOTCONN if c.type == _SOCK_STREAM else WSAEDESTADDRREQ)
    _native_flags(flags)
    if c.type == _SOCK_DGRAM:
        return WSPSendTo(c, buffers, flags, c.peer, ov, cr, tid)
    if isinstance(buffers, (list, tuple)):
        total = 0
        for b in buffers:
            total += _send_all(c, b, flags)
        return total
    return _send_all(c, buffers, flags)


def _send_all(c, buf, flags):
    sk = c.sk
    try:
        mv = memoryview(buf)
    except TypeError:
        raise WSAError(WSAEFAULT, "send needs a bytes-like object, not %s" % type(buf).__name__)
    n = len(mv)
    nonblock = c.state & _NONBLOCK or flags & _MSG_DONTWAIT
    if nonblock:
        sk.settimeout(0)
    sent = 0
    try:
        while sent < n:
            try:
                k = sk.send(mv[sent:] if sent else mv)
            except OSError as e:
                if sent and wsa_code(e) == WSAEWOULDBLOCK:
                    break
                raise _blocking_error(c, e)
            if k is None:
                break
            sent += k
            if nonblock:
                break
    finally:
        if nonblock and not c.state & _NONBLOCK:
            sk.settimeout(c.timeout)
    return sent


def _recv_native(c, n, flags):
    nflags = _native_flags(flags)
    sk = c.sk
    dontwait = flags & _MSG_DONTWAIT and not c.state & _NONBLOCK
    if dontwait:
        sk.settimeout(0)
    try:
        data = sk.recv(n, nflags) if nflags else sk.recv(n)
    except OSError as e:
        raise _blocking_error(c, e)
    finally:
        if dontwait:
            sk.settimeout(c.timeout)
    if data is None:  # a non-blocking stream read with nothing there
        raise WSAError(WSAEWOULDBLOCK)
    return data


def _fill(buffers, data):
    """Copy data across a buffer or list of buffers; return the count copied."""
    if not isinstance(buffers, (list, tuple)):
        buffers = (buffers,)
    k = 0
    n = len(data)
    for b in buffers:
        if k >= n:
            break
        mv = memoryview(b)
        m = min(len(mv), n - k)
        mv[:m] = data[k : k + m]
        k += m
    return k


def _capacity(buffers):
    try:
        if isinstance(buffers, (list, tuple)):
            t = 0
            for b in buffers:
                t += len(memoryview(b))
            return t
        return len(memoryview(buffers))
    except TypeError:
        raise WSAError(WSAEFAULT, "receive buffers must be writable bytes-like objects")


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive into buffers (or, given an int n, into a new bytes); returns (count or data, flags)."""
    _no_overlapped(ov, cr)
    if c.state & _SHUT_RD:
        raise WSAError(WSAESHUTDOWN)
    if c.type == _SOCK_STREAM and not c.state & _CONNECTED:
        raise WSAError(WSAENOTCONN)
    if isinstance(buffers, int):
        if buffers < 0:
            raise WSAError(WSAEINVAL, "negative receive size")
        return _recv_native(c, buffers, flags), 0
    n = _capacity(buffers)
    if _HAS_RECV_INTO and not isinstance(buffers, (list, tuple)) and not flags & _MSG_DONTWAIT:
        try:
            return c.sk.recv_into(buffers, n, _native_flags(flags)), 0
        except OSError as e:
            raise _blocking_error(c, e)
    return _fill(buffers, _recv_native(c, n, flags)), 0


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Send one datagram (gathered from buffers) to addr; stream sockets ignore addr."""
    _no_overlapped(ov, cr)
    if c.type == _SOCK_STREAM:
        return WSPSend(c, buffers, flags, ov, cr, tid)
    if c.state & _SHUT_WR:
        raise WSAError(WSAESHUTDOWN)
    _native_flags(flags)
    if addr is None:
        addr = c.peer
        if addr is None:
            raise WSAError(WSAEDESTADDRREQ)
    if isinstance(buffers, (list, tuple)):
        buffers = b"".join(buffers)  # one datagram: the gather has to meet in one buffer
    try:
        n = len(memoryview(buffers))
    except TypeError:
        raise WSAError(WSAEFAULT, "sendto needs a bytes-like object")
    if n > _MAX_UDP:
        raise WSAError(WSAEMSGSIZE, "a UDP datagram holds at most %d bytes" % _MAX_UDP)
    na = _native_addr(c, addr)
    _apply_timeout(c)
    try:
        k = c.sk.sendto(buffers, na)
    except OSError as e:
        raise _blocking_error(c, e)
    c.state |= _BOUND
    return n if k is None else k


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive one datagram; returns (count or data, flags, address)."""
    _no_overlapped(ov, cr)
    if c.type == _SOCK_STREAM:
        r = WSPRecv(c, buffers, flags, ov, cr, tid)
        return r[0], r[1], c.peer
    if c.state & _SHUT_RD:
        raise WSAError(WSAESHUTDOWN)
    want = buffers if isinstance(buffers, int) else _capacity(buffers)
    nflags = _native_flags(flags)
    sk = c.sk
    dontwait = flags & 0x40 and not c.state & _NONBLOCK
    if dontwait:
        sk.settimeout(0)
    else:
        _apply_timeout(c)
    try:
        # Ask for a full datagram so an oversized one can be reported as
        # WSAEMSGSIZE (Winsock truncates and says so) instead of silently cut.
        if nflags:
            data, na = sk.recvfrom(_MAX_UDP, nflags)
        else:
            data, na = sk.recvfrom(_MAX_UDP)
    except OSError as e:
        raise _blocking_error(c, e)
    finally:
        if dontwait:
            sk.settimeout(c.timeout)
    addr = _from_native(c, na)
    if len(data) > want:
        if isinstance(buffers, int):
            data = data[:want]
        else:
            _fill(buffers, data)
        c.error = WSAEMSGSIZE
        raise WSAError(WSAEMSGSIZE, "datagram of %d bytes truncated to %d" % (len(data), want))
    if isinstance(buffers, int):
        return data, 0, addr
    return _fill(buffers, data), 0, addr


def WSPGetSockName(c):
    """Local address as bound (MicroPython has no getsockname to ask)."""
    if hasattr(c.sk, "getsockname"):
        try:
            return _from_native(c, c.sk.getsockname())
        except OSError:
            pass
    if not c.state & _BOUND:
        raise WSAError(WSAEINVAL, "socket is not bound")
    return c.local if c.local is not None else (("0.0.0.0", 0) if c.af == _AF_INET else ("::", 0, 0, 0))


def WSPGetPeerName(c):
    """Peer address of a connected socket."""
    if not c.state & _CONNECTED or c.peer is None:
        raise WSAError(WSAENOTCONN)
    return c.peer


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP)


def _syscall_failure(*args):
    # What CE's wspm answers for the SPI calls it stubs out.
    raise WSAError(WSASYSCALLFAILURE)


def WSPGetSockOpt(c, level, name):
    """Socket options (completed by the router-core work)."""
    raise WSAError(WSAENOPROTOOPT)


def WSPSetSockOpt(c, level, name, value):
    """Socket options (completed by the router-core work)."""
    raise WSAError(WSAENOPROTOOPT)


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """ioctls (completed by the router-core work)."""
    raise WSAError(WSAEINVAL)


def WSPShutdown(c, how):
    """Shutdown (completed by the router-core work)."""
    raise WSAError(WSAEOPNOTSUPP)


def WSPCleanup():
    """Drop one WSPStartup reference."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    _starts -= 1
    return 0


_TABLE = (
    WSPAccept, _unsupported, _syscall_failure, WSPBind, _syscall_failure, WSPCleanup, WSPCloseSocket,
    WSPConnect, _syscall_failure, _unsupported, _unsupported, _unsupported, WSPGetPeerName,
    WSPGetSockName, WSPGetSockOpt, _syscall_failure, WSPIoctl, _unsupported, WSPListen, WSPRecv,
    _unsupported, WSPRecvFrom, _unsupported, WSPSend, _unsupported, WSPSendTo, WSPSetSockOpt,
    WSPShutdown, WSPSocket, _unsupported,
)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    global _upcalls, _starts
    if (version & 0xFF) < 2:
        raise WSAError(10092)  # WSAVERNOTSUPPORTED
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 wspm TCP/UDP"), _TABLE
