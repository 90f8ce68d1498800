# ws2/sockctrl: connection and control calls: connect, listen, names, options, shutdown, ioctls.
# MIT licence; part of ws2 for MicroPython.
from ws2 import handles
from ws2.dispatch import call, fail
from ws2.errors import WSAError, WSAEINVAL
from ws2.port import const

# Private copies of shared numbers (slots: ws2.spiconst, flags: ws2.handles, request kinds:
# ws2.overlapped, codes: ws2.errors/const), folded by the compiler; the unit tests check each one.
_WSP_CONNECT = const(7)
_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKNAME = const(13)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_JOINLEAF = const(17)
_WSP_LISTEN = const(18)
_WSP_RECVDISCONNECT = const(20)
_WSP_SENDDISCONNECT = const(24)
_WSP_SETSOCKOPT = const(26)
_WSP_SHUTDOWN = const(27)
_F_EVENTS = const(4)
_FIONBIO = const(0x8004667E)
_SOL_SOCKET = const(0xFFFF)
_SO_SECURE = const(0x2001)
_WSAEWOULDBLOCK = const(10035)


def connect(s, addr):
    """Connect s to addr (for datagram sockets: set the default peer)."""
    return WSAConnect(s, addr)


def WSAConnect(s, addr, caller_data=None, callee_data=None, sqos=None, gqos=None):
    """Connect with optional connect-time data and QoS (providers may refuse them)."""
    try:
        return call(s, _WSP_CONNECT, addr, caller_data, callee_data, sqos, gqos)
    except WSAError as e:
        if e.args[0] == _WSAEWOULDBLOCK and handles.flags[handles.slot(s)] & _F_EVENTS:
            from ws2 import netevents

            netevents.connecting(s)  # FD_CONNECT will report how it ends
        raise


def WSAJoinLeaf(s, addr, caller_data=None, callee_data=None, sqos=None, gqos=None, flags=0):
    """Join a multipoint session (WSAEOPNOTSUPP on providers without multipoint)."""
    return call(s, _WSP_JOINLEAF, addr, caller_data, callee_data, sqos, gqos, flags)


def listen(s, backlog=5):
    """Listen for connections on a bound stream socket."""
    return call(s, _WSP_LISTEN, backlog)


def getsockname(s):
    """Return the local address of s."""
    return call(s, _WSP_GETSOCKNAME)


def getpeername(s):
    """Return the peer address of a connected s."""
    return call(s, _WSP_GETPEERNAME)


def getsockopt(s, level, name):
    """Return the value of a socket option."""
    if name == _SO_SECURE and level == _SOL_SOCKET:
        from ws2 import secure

        return secure.getopt(s)
    return call(s, _WSP_GETSOCKOPT, level, name)


def setsockopt(s, level, name, value):
    """Set a socket option."""
    if name == _SO_SECURE and level == _SOL_SOCKET:
        from ws2 import secure  # CE's SO_SECURE on a plain socket: the TLS layer is put over it then

        return secure.setopt(s, value)
    return call(s, _WSP_SETSOCKOPT, level, name, value)


def shutdown(s, how):
    """Disable receives (SD_RECEIVE), sends (SD_SEND) or both (SD_BOTH)."""
    return call(s, _WSP_SHUTDOWN, how)


def WSASendDisconnect(s, data=None):
    """Start a graceful close, with optional disconnect data."""
    return call(s, _WSP_SENDDISCONNECT, data)


def WSARecvDisconnect(s, buf=None):
    """Stop receiving and collect disconnect data (returns its length)."""
    return call(s, _WSP_RECVDISCONNECT, buf)


def WSAIoctl(s, code, in_data=None, out_len=0, overlapped=None, completion=None):
    """Run a socket ioctl; returns its output (None when it has none)."""
    _check_fionbio(s, code, in_data)
    if overlapped is not None:
        from ws2 import overlapped as ov

        return ov.submit(s, ov.IOCTL, (code, in_data, out_len), 0, None, overlapped, completion)
    return call(s, _WSP_IOCTL, code, in_data, out_len, None, None, None)


def ioctlsocket(s, cmd, arg=0):
    """ioctlsocket: FIONBIO, FIONREAD, SIOCATMARK; returns the ioctl's value."""
    _check_fionbio(s, cmd, arg)
    return call(s, _WSP_IOCTL, cmd, arg, 4, None, None, None)


def _check_fionbio(s, cmd, arg):
    # A socket under WSAEventSelect/WSAAsyncSelect must stay non-blocking until
    # the registration is cancelled (Winsock: WSAEINVAL).
    if cmd == _FIONBIO and not arg and handles.flags[handles.slot(s)] & _F_EVENTS:
        raise fail(WSAError(WSAEINVAL, "cancel WSAEventSelect/WSAAsyncSelect (mask 0) before FIONBIO 0"))
