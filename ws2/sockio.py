# ws2/sockio: data transfer: send, recv, recv_into, sendto, recvfrom and the WSA forms.
# MIT licence; part of ws2 for MicroPython.
#
# These are the hot paths: each is the dispatch shape written out by hand (no
# *args tuple, no helper frames), so a call allocates nothing beyond what the
# provider returns.
from ws2 import handles
from ws2.dispatch import fail
from ws2.errors import WSAError
from ws2.port import const, micropython

# Private copies of shared numbers (slots: ws2.spiconst, flags: ws2.handles, request kinds:
# ws2.overlapped, codes: ws2.errors/const), folded by the compiler; the unit tests check each one.
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
_WSAEFAULT = const(10014)
_WSAEINVAL = const(10022)
_F_EVENTS = const(4)  # handles.flags: the socket has a WSAEventSelect/WSAAsyncSelect registration
_FD_READ = const(0x01)
_FD_OOB = const(0x04)
_FD_WRITE = const(0x02)
_WSAEWOULDBLOCK = const(10035)
# overlapped request kinds (ws2.overlapped.SEND ...)
_SEND = const(0)
_RECV = const(1)
_SENDTO = const(2)
_RECVFROM = const(3)
_slot = handles.slot


def _rearm(s, events):
    # Winsock's re-enabling rule: a recv-family call re-arms FD_READ/FD_OOB,
    # a send that hit WSAEWOULDBLOCK arms FD_WRITE. Only registered sockets
    # get here (one flag test on the hot path).
    from ws2 import netevents

    netevents.rearm(s, events)


def _sent_fail(s, i, e):
    e = fail(e)
    if e.args[0] == _WSAEWOULDBLOCK and handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_WRITE)
    return e


def _overlapped(s, kind, buffers, flags, addr, overlapped, completion):
    from ws2 import overlapped as ov

    return ov.submit(s, kind, buffers, flags, addr, overlapped, completion)


@micropython.native
def send(s, buf, flags=0):
    """Send buf on a connected socket; returns the number of bytes sent."""
    i = _slot(s)
    try:
        return handles.prov[i].table[_WSP_SEND](handles.ctx[i], buf, flags, None, None, None)
    except Exception as e:
        raise _sent_fail(s, i, e)


@micropython.native
def recv(s, n, flags=0):
    """Receive up to n bytes; b'' when the peer has closed."""
    i = _slot(s)
    if handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_READ | _FD_OOB)
    try:
        if n < 0:  # sizes the router checks itself, for every provider (a TypeError here is WSAEFAULT)
            raise WSAError(_WSAEINVAL, "negative receive size")
        return handles.prov[i].table[_WSP_RECV](handles.ctx[i], n, flags, None, None, None)[0]
    except Exception as e:
        raise fail(e)


@micropython.native
def recv_into(s, buf, n=0, flags=0):
    """Receive into buf (at most n bytes when n > 0); returns the count."""
    i = _slot(s)
    if handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_READ | _FD_OOB)
    try:
        if isinstance(buf, int):  # an int means "n bytes, new bytes" to WSPRecv: not a buffer here
            raise WSAError(_WSAEFAULT, "recv_into needs a writable buffer")
        if n:
            if n < 0:
                raise WSAError(_WSAEINVAL, "negative receive size")
            if n > len(buf):
                raise WSAError(_WSAEFAULT, "n is larger than the buffer")
            buf = memoryview(buf)[:n]
        return handles.prov[i].table[_WSP_RECV](handles.ctx[i], buf, flags, None, None, None)[0]
    except Exception as e:
        raise fail(e)


@micropython.native
def sendto(s, buf, flags_or_addr, addr=None):
    """Send a datagram: sendto(s, buf, addr) or sendto(s, buf, flags, addr)."""
    if addr is None:
        addr, flags = flags_or_addr, 0
    else:
        flags = flags_or_addr
    i = _slot(s)
    try:
        return handles.prov[i].table[_WSP_SENDTO](handles.ctx[i], buf, flags, addr, None, None, None)
    except Exception as e:
        raise _sent_fail(s, i, e)


@micropython.native
def recvfrom(s, n, flags=0):
    """Receive a datagram of at most n bytes; returns (data, address)."""
    i = _slot(s)
    if handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_READ | _FD_OOB)
    try:
        if n < 0:
            raise WSAError(_WSAEINVAL, "negative receive size")
        r = handles.prov[i].table[_WSP_RECVFROM](handles.ctx[i], n, flags, None, None, None)
        return r[0], r[2]
    except Exception as e:
        raise fail(e)


@micropython.native
def WSASend(s, buffers, flags=0, overlapped=None, completion=None):
    """Gather-send a buffer or list of buffers; returns the bytes sent (overlapped: or raises WSA_IO_PENDING)."""
    i = _slot(s)
    if overlapped is not None:
        return _overlapped(s, _SEND, buffers, flags, None, overlapped, completion)
    try:
        return handles.prov[i].table[_WSP_SEND](handles.ctx[i], buffers, flags, None, None, None)
    except Exception as e:
        raise _sent_fail(s, i, e)


@micropython.native
def WSARecv(s, buffers, flags=0, overlapped=None, completion=None):
    """Scatter-receive into a buffer or list of buffers; returns (count, flags) (overlapped: or raises WSA_IO_PENDING)."""
    i = _slot(s)
    if handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_READ | _FD_OOB)
    if overlapped is not None:
        return _overlapped(s, _RECV, buffers, flags, None, overlapped, completion)
    try:
        return handles.prov[i].table[_WSP_RECV](handles.ctx[i], buffers, flags, None, None, None)
    except Exception as e:
        raise fail(e)


@micropython.native
def WSASendTo(s, buffers, addr, flags=0, overlapped=None, completion=None):
    """Gather-send one datagram to addr; returns the bytes sent (overlapped: or raises WSA_IO_PENDING)."""
    i = _slot(s)
    if overlapped is not None:
        return _overlapped(s, _SENDTO, buffers, flags, addr, overlapped, completion)
    try:
        return handles.prov[i].table[_WSP_SENDTO](handles.ctx[i], buffers, flags, addr, None, None, None)
    except Exception as e:
        raise _sent_fail(s, i, e)


@micropython.native
def WSARecvFrom(s, buffers, flags=0, overlapped=None, completion=None):
    """Scatter-receive one datagram; returns (count, flags, address) (overlapped: or raises WSA_IO_PENDING)."""
    i = _slot(s)
    if handles.flags[i] & _F_EVENTS:
        _rearm(s, _FD_READ | _FD_OOB)
    if overlapped is not None:
        return _overlapped(s, _RECVFROM, buffers, flags, None, overlapped, completion)
    try:
        return handles.prov[i].table[_WSP_RECVFROM](handles.ctx[i], buffers, flags, None, None, None)
    except Exception as e:
        raise fail(e)
