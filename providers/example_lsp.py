# providers/example_lsp: the smallest useful layered provider: passes every call down its chain and counts.
# MIT licence; part of ws2 for MicroPython. The worked example of providers/README.md; the tests install it.
#
# How a layer works (README "Layered providers"): the router creates a socket
# on a chain entry (protocol_chain = (this layer's entry, ..., base entry)) by
# calling this module's WSPSocket with the chain's protocol info. The layer
# asks the router for the started provider one step down the chain
# (ws2.provider.for_entry: the Python form of LoadLibrary + WSPStartup), calls
# its WSPSocket with the chain's protocol info advanced by one step (so the
# next provider always finds itself at protocol_chain[0] and registers its
# handle under its own catalog entry), looks the lower socket's context up
# with WPUQuerySocketHandleContext, and gives the application its own handle
# from WPUCreateSocketHandle. Every later call on that handle arrives here
# with our context and goes down through the lower provider's proc table.
# The plumbing every pass-through layer shares (chain lookup, handles, close,
# select, pass-through slots) is providers/layer.py; this module adds the
# counting on top.
from providers import layer
from ws2.port import const

# The proc-table slots this module names, as private copies of ws2.spiconst's WSP_* (MicroPython folds
# const() names into the code, so they cost no RAM; host_tests/unit/test_const_homes checks each copy).
_WSP_ACCEPT = const(0)
_WSP_CLEANUP = const(5)
_WSP_CLOSESOCKET = const(6)
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
_WSP_SOCKET = const(28)
_MSG_PEEK = const(0x2)
_NAME = "the example layer"

# What went through the layer since it was loaded (the tests read these).
stats = {"sockets": 0, "sent": 0, "received": 0}
_starts = layer.Starts("ws2 example counting layer")


def lower_of(info):
    """Return (proc table of the next provider down info's chain, the protocol info to hand it)."""
    return layer.lower_of(info, _NAME)


class _Sock(layer.Sock):
    """Our context for one socket: the lower provider's table, context and handle (layer.Sock)."""


def _adopt(table, lower_handle, entry_id):
    # Wrap a socket the lower provider made (layer.adopt closes it again if making our handle fails).
    c = layer.adopt(_Sock, table, lower_handle, entry_id)
    stats["sockets"] += 1
    return c.handle


def WSPSocket(af, typ, proto, info, group, flags):
    """Create the lower socket through the chain, then our own handle over it."""
    table, down = lower_of(info)
    return _adopt(table, table[_WSP_SOCKET](af, typ, proto, down, group, flags), info.catalog_entry_id)


def WSPAdoptSocket(lower_handle, info, handle):
    """ws2 re-homing (ws2/rehome): our context over an open lower socket; it answers to handle."""
    c = layer.adopt_open(_Sock, lower_handle, info, handle, _NAME)
    stats["sockets"] += 1
    return c


def WSPAccept(c, condition, callback_data):
    """Accept below, and wrap the new lower socket as one of ours."""
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    return _adopt(c.lt, lh, c.entry), addr


def WSPCloseSocket(c):
    """Close the lower socket, then free our handle (even when the lower close fails)."""
    return layer.close(c)


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send below and count the bytes."""
    n = c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)
    stats["sent"] += n
    return n


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Send a datagram below and count the bytes."""
    n = c.lt[_WSP_SENDTO](c.lc, buffers, flags, addr, ov, cr, tid)
    stats["sent"] += n
    return n


def _count(r, flags):
    if not flags & _MSG_PEEK:
        stats["received"] += r[0] if isinstance(r[0], int) else len(r[0])
    return r


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive below and count the bytes (peeks are not counted)."""
    return _count(c.lt[_WSP_RECV](c.lc, buffers, flags, ov, cr, tid), flags)


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive a datagram below and count the bytes."""
    return _count(c.lt[_WSP_RECVFROM](c.lc, buffers, flags, ov, cr, tid), flags)


def WSPSelect(r, w, x, ms):
    """Ask the lower provider about our sockets' lower contexts and map the answer back."""
    return layer.select(r, w, x, ms, _NAME)


def WSPCleanup():
    """Drop one WSPStartup reference."""
    _starts.stop()
    return 0


# The proc table, each function in its slot by name. Every slot not named here passes
# straight down (layer.down), WSPIoctl too (layer.ioctl: the socket can be re-homed), the address slots go
# to the chain's next provider (layer.by_info), WSPCancelBlockingCall and WSPDuplicateSocket are refused.
_TABLE = layer.table({
    _WSP_ACCEPT: WSPAccept,
    _WSP_CLEANUP: WSPCleanup,
    _WSP_CLOSESOCKET: WSPCloseSocket,
    _WSP_RECV: WSPRecv,
    _WSP_RECVFROM: WSPRecvFrom,
    _WSP_SELECT: WSPSelect,
    _WSP_SEND: WSPSend,
    _WSP_SENDTO: WSPSendTo,
    _WSP_SOCKET: WSPSocket,
}, _NAME)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    return _starts.start(version, upcalls, _TABLE)
