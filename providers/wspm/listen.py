# providers/wspm/listen: listen, accept (with Winsock's conditional accept), and a socket's names.
# MIT licence; part of ws2 for MicroPython.
import sys

from ws2.errors import WSAError, WSAECONNREFUSED, WSAEINVAL, WSAEISCONN, WSAENOTCONN, WSAEOPNOTSUPP, WSATRY_AGAIN
from ws2.port import const

_w = sys.modules.get(__name__[: __name__.rfind(".")])  # the core, providers.wspm: its _part() (re)binds it

_CF_ACCEPT = const(0)
_CF_REJECT = const(1)
_CF_DEFER = const(2)
_MAX_BACKLOG = const(16)
_SLICED = const(-2)  # the core's mode for a wait-forever cut in slices (see the core's _slice_over)

# _Sock.state bits (copies of the core's)
_V6 = const(0x1)
_DGRAM = const(0x2)
_BOUND = const(0x4)
_LISTENING = const(0x8)
_CONNECTED = const(0x10)
_CONNECTING = const(0x20)
_NONBLOCK = const(0x100)
_DEAD = const(0x400)
_INHERIT = const(0xF901)


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
    if not st & _LISTENING:
        try:
            c.sk.listen(min(max(backlog, 1), _MAX_BACKLOG))
        except OSError as e:
            raise _w._fail(e, 0)
        c.state |= _LISTENING
    return 0


def WSPAccept(c, condition, callback_data):
    """Accept a connection, asking condition(caller, data, qos, callee, callback_data) first; returns (handle, peer)."""
    st = c.state
    if not st & _LISTENING:
        raise WSAError(WSAEINVAL, "not listening")
    d = c.extra and c.extra.pop("defer", None)  # a connection CF_DEFER left waiting
    if d:
        nsk, peer = d
    else:
        m = -1 if st & _NONBLOCK else _SLICED  # Winsock: SO_RCVTIMEO does not bound accept
        if c.mode != m:
            _w._set_mode(c, m)
        while True:
            try:
                nsk, na = c.sk.accept()
                break
            except OSError as e:
                if m != _SLICED or not _w._slice_over(c, e):
                    raise _w._fail(e, m)
        peer = _w._from_native(c, na)
    if condition is not None:
        _ask(c, nsk, peer, condition, callback_data)
    n = _w._Sock(nsk, (st & _INHERIT) | _BOUND | _CONNECTED, c.catalog_id)
    if c.rcvtimeo:
        n.rcvtimeo = c.rcvtimeo
    if c.sndtimeo:
        n.sndtimeo = c.sndtimeo
    if c.extra is not None:
        _w._part("options").inherit(c, n)
    n.local = c.local
    n.peer = peer
    try:
        _w._set_mode(n, -1 if st & _NONBLOCK else 0)  # rp2 passes the listener's timeout on; say what we want
        n.handle = _w._upcalls.WPUCreateSocketHandle(c.catalog_id, n)
    except BaseException:
        nsk.close()
        raise
    return n.handle, peer


def WSPGetSockName(c):
    """Local address; WSAEINVAL before bind (on MicroPython: as bound, wildcard port 0 after an implicit bind)."""
    if not c.state & (_BOUND | _CONNECTED | _CONNECTING):
        raise WSAError(WSAEINVAL, "not bound")
    return _sockname(c)


def WSPGetPeerName(c):
    """Peer address of a connected socket; WSAENOTCONN otherwise."""
    if not _w._probe(c) or c.peer is None:
        raise WSAError(WSAENOTCONN)
    return c.peer


def _ask(c, nsk, peer, cond, data):
    """Ask a conditional-accept function about a connection; return when accepted, else raise and dispose of it."""
    try:
        verdict = cond(peer, None, None, _sockname(c), data)
    except BaseException:
        nsk.close()
        raise
    if verdict == _CF_ACCEPT:
        return
    if verdict == _CF_DEFER:
        # Windows leaves the request queued; here it waits beside the listener.
        _w._part("options").extra(c)["defer"] = (nsk, peer)
        raise WSAError(WSATRY_AGAIN, "deferred")
    # CF_REJECT: reset the connection where the port can (SO_LINGER {1, 0}),
    # so the peer sees it refused rather than served; lwIP can only close it.
    _w._part("options").linger_reset(nsk)
    nsk.close()
    if verdict == _CF_REJECT:
        raise WSAError(WSAECONNREFUSED, "rejected")
    raise WSAError(WSAEINVAL, "bad verdict %r" % (verdict,))


# -- names ---------------------------------------------------------------------------------------

def _sockname(c):
    # The local address: the kernel's answer on CPython; elsewhere what bind (or connect's own bind)
    # recorded, its wildcard IP made the address of the interface that reaches the peer once connected.
    if not _w._MICROPYTHON and not c.state & _DEAD:
        try:
            return _w._from_native(c, c.sk.getsockname())
        except OSError:
            pass
    a = c.local
    if a is None:
        return _w._ANY6 if c.state & _V6 else _w._ANY4
    if (a[0] == "0.0.0.0" or a[0] == "::") and c.peer is not None and c.state & _CONNECTED:
        ip = _route_ip(c, c.peer[0])
        if ip is not None:
            a = c.local = (ip,) + a[1:]
    return a


def _route_ip(c, host):
    # The address the stack sends from to reach host: loopback for loopback, else the interface's.
    if c.state & _V6:
        return "::1" if host == "::1" else None  # (interface IPv6 addresses: not asked for yet)
    b = _w._ip4(host)
    if b is None:
        return None
    if b[0] == 127:
        return "127.0.0.1"
    return pick_local(_interfaces(), b)


def _interfaces():
    # [(ip, netmask)] of the board's active network interfaces with an address, station first.
    try:
        import network
    except ImportError:
        return ()  # the unix port: no interfaces to ask
    out = []
    for kind in ("STA_IF", "AP_IF"):
        k = getattr(network, kind, None)
        if k is None:
            continue
        try:
            w = network.WLAN(k)
            if w.active():
                ip, mask = w.ifconfig()[:2]
                if ip != "0.0.0.0":
                    out.append((ip, mask))
        except Exception:
            pass  # a port without that interface
    return out


def pick_local(ifaces, peer):
    """The IP of the interface whose subnet holds peer (4 bytes), else the first (lwIP's default route); None without any."""
    for ip, mask in ifaces:
        a = _w._ip4(ip)
        m = _w._ip4(mask)
        if a is not None and m is not None and all((a[i] ^ peer[i]) & m[i] == 0 for i in range(4)):
            return ip
    return ifaces[0][0] if ifaces else None
