# providers/wspm/stream: a stream connection beyond send and receive: how a non-blocking connect
# ended, MSG_WAITALL, shutdown and disconnect.
# MIT licence; part of ws2 for MicroPython.
#
# Shutdown: only CPython has a native one. On MicroPython SD_SEND and
# SD_RECEIVE are state (later calls fail WSAESHUTDOWN; the peer sees no FIN,
# lwIP cannot send one without closing); once both directions are shut the
# native socket is closed, so the peer sees the FIN then.
import sys

from ws2.errors import (WSAError, WSAEALREADY, WSAECONNREFUSED, WSAECONNRESET, WSAEINVAL, WSAEISCONN,
                        WSAENOPROTOOPT, WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP, WSAETIMEDOUT, WSAEWOULDBLOCK,
                        wsa_code)
from ws2.port import const

_w = sys.modules.get(__name__[: __name__.rfind(".")])  # the core, providers.wspm: its _part() (re)binds it

_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_SD_RECEIVE = const(0)
_SD_SEND = const(1)
_SD_BOTH = const(2)
_SLICED = const(-2)  # the core's mode for a wait-forever cut in slices (see the core's _slice_over)

# _Sock.state bits (copies of the core's)
_DGRAM = const(0x2)
_BOUND = const(0x4)
_CONNECTED = const(0x10)
_CONNECTING = const(0x20)
_SHUT_RD = const(0x40)
_SHUT_WR = const(0x80)
_NONBLOCK = const(0x100)
_DEAD = const(0x400)


def probe(c):
    """Learn how a non-blocking connect ended by connecting again (no port has SO_ERROR natively)."""
    m = -1 if c.state & _NONBLOCK else c.sndtimeo
    if c.mode != m:
        _w._set_mode(c, m)
    err = 0
    try:
        c.sk.connect(_w._native(c, c.peer)[2])
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


def recv_waitall(c, buffers, flags, nf, m):
    """MSG_WAITALL: receive until the buffers are full, the peer closes, or the timeout ends."""
    if m == -1 or flags & (_MSG_PEEK | _MSG_OOB):
        raise WSAError(WSAEOPNOTSUPP, "MSG_WAITALL")
    if c.mode != m:
        _w._set_mode(c, m)
    if type(buffers) is int:
        if buffers < 0:
            raise WSAError(WSAEINVAL, "negative size")
        buf = bytearray(min(buffers, 0x7FFFFFFF))  # the caller asked for all n bytes: no recv cap here
        return bytes(memoryview(buf)[: recv_waitall(c, buf, flags, nf, m)])
    mvs, n = _w._wbufs(buffers)
    got = 0
    for mv in mvs:
        k = 0
        while k < len(mv):
            try:
                r = _w._recv_stream(c, mv[k:], nf, m)
            except WSAError as e:
                if m == _SLICED and _w._slice_over(c, e):  # a sliced forever-wait: keep waiting
                    continue
                if got + k and e.args[0] in (WSAETIMEDOUT, WSAEWOULDBLOCK):
                    return got + k
                raise
            if not r:
                return got + k
            k += r
        got += k
    return got


# -- shutdown, disconnect, multipoint ------------------------------------------------------------

def WSPShutdown(c, how):
    """SD_RECEIVE, SD_SEND or SD_BOTH: real on CPython; on MicroPython state, and the FIN once both are shut."""
    if type(how) is not int or not 0 <= how <= _SD_BOTH:
        raise WSAError(WSAEINVAL, "bad how")
    st = c.state
    if not st & _DGRAM:
        if not _w._probe(c):
            raise WSAError(WSAENOTCONN)
        st = c.state
    native = hasattr(c.sk, "shutdown")
    if native and not st & (_DGRAM | _DEAD):
        try:
            c.sk.shutdown(how)  # SHUT_RD, SHUT_WR, SHUT_RDWR share Winsock's numbers
        except OSError as e:
            if wsa_code(e) != WSAENOTCONN:  # the peer already went: nothing left to shut
                raise _w._fail(e, 0)
    st |= (_SHUT_RD, _SHUT_WR, _SHUT_RD | _SHUT_WR)[how]
    if not native and st & _SHUT_RD and st & _SHUT_WR and not st & _DEAD:
        _w._close_native(c)
        st |= _DEAD
    c.state = st
    return 0


def WSPSendDisconnect(c, data):
    """Shutdown SD_SEND; disconnect data is not supported (WSAENOPROTOOPT)."""
    if data:
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    return WSPShutdown(c, _SD_SEND)


def WSPRecvDisconnect(c, buf):
    """Shutdown SD_RECEIVE; returns the length of the disconnect data (always 0)."""
    if buf is not None and len(buf):
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    WSPShutdown(c, _SD_RECEIVE)
    return 0


def WSPJoinLeaf(c, addr, caller_data, callee_data, sqos, gqos, flags):
    """No multipoint in wspm (as on CE): WSAEOPNOTSUPP."""
    raise WSAError(WSAEOPNOTSUPP, "multipoint")
