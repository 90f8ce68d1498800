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
from ws2.errors import WSAError, WSAEINVAL, WSAEOPNOTSUPP, WSAEPROVIDERFAILEDINIT, WSANOTINITIALISED

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_WSP_ACCEPT = const(0)
_WSP_ADDRESSTOSTRING = const(1)
_WSP_CLOSESOCKET = const(6)
_WSP_IOCTL = const(16)
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
_WSP_SOCKET = const(28)
_WSP_STRINGTOADDRESS = const(29)
_MSG_PEEK = const(0x2)
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)  # ws2's own (ws2/rehome)
_VERSION = const(0x0202)

# What went through the layer since it was loaded (the tests read these).
stats = {"sockets": 0, "sent": 0, "received": 0}
_upcalls = None
_starts = 0


class _Sock:
    """Our context for one socket: the lower provider's table, context and handle."""

    def __init__(self, table, lower_handle, entry_id):
        self.lt = table
        self.lh = lower_handle
        self.lc = _upcalls.WPUQuerySocketHandleContext(lower_handle)
        self.entry = entry_id  # the catalog entry our own handles are made for
        self.handle = 0


def lower_of(info):
    """Return (proc table of the next provider down info's chain, the protocol info to hand it)."""
    chain = info.protocol_chain
    if len(chain) < 2:
        raise WSAError(WSAEINVAL, "a layered provider is used through a protocol chain; entry %d has none"
                       % info.catalog_entry_id)
    from ws2 import catalog, provider
    from ws2.protocol_info import from_tuple

    nxt = chain[1]
    e = catalog.by_id(nxt)
    # A chain ends at a base entry (chain length 1); every step before it is a layered entry (length 0).
    if e is None or (len(e[catalog.I_CHAIN]) == 1) != (len(chain) == 2):
        raise WSAError(WSAEPROVIDERFAILEDINIT, "protocol chain %r of catalog entry %d is broken: entry %d is %s"
                       % (chain, info.catalog_entry_id, nxt, "no longer installed" if e is None else
                          "not the kind of entry the chain needs there"))
    down = from_tuple(info.to_tuple())
    down.catalog_entry_id = nxt
    down.protocol_chain = chain[1:]
    return provider.for_entry(e).table, down


def _adopt(table, lower_handle, entry_id):
    # Wrap a socket the lower provider made; on failure close it so nothing leaks.
    try:
        c = _Sock(table, lower_handle, entry_id)
        c.handle = _upcalls.WPUCreateSocketHandle(entry_id, c)
    except BaseException:
        table[_WSP_CLOSESOCKET](_upcalls.WPUQuerySocketHandleContext(lower_handle))
        raise
    stats["sockets"] += 1
    return c.handle


def WSPSocket(af, typ, proto, info, group, flags):
    """Create the lower socket through the chain, then our own handle over it."""
    table, down = lower_of(info)
    return _adopt(table, table[_WSP_SOCKET](af, typ, proto, down, group, flags), info.catalog_entry_id)


def WSPAdoptSocket(lower_handle, info, handle):
    """ws2 re-homing (ws2/rehome): our context over an open lower socket; it answers to handle."""
    table, down = lower_of(info)
    c = _Sock(table, lower_handle, info.catalog_entry_id)
    c.handle = handle
    stats["sockets"] += 1
    return c


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """Our handle moves when the socket is re-homed under another layer; other codes go down."""
    if code == _SIO_SET_SOCKET_HANDLE:
        old = c.handle
        c.handle = in_data
        return old
    return c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)


def WSPAccept(c, condition, callback_data):
    """Accept below, and wrap the new lower socket as one of ours."""
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    return _adopt(c.lt, lh, c.entry), addr


def WSPCloseSocket(c):
    """Close the lower socket, then free our handle (even when the lower close fails)."""
    try:
        c.lt[_WSP_CLOSESOCKET](c.lc)
    finally:
        _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


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
    sets = (r, w, x)
    table = None
    back = {}
    low = ([], [], [])
    for k in range(3):
        for c in sets[k]:
            if table is None:
                table = c.lt
            elif c.lt is not table:
                raise WSAError(WSAEINVAL, "select over sockets of different lower providers")
            back[id(c.lc)] = c
            low[k].append(c.lc)
    if table is None:
        return [], [], []
    got = table[_WSP_SELECT](low[0], low[1], low[2], ms)
    return [back[id(lc)] for lc in got[0]], [back[id(lc)] for lc in got[1]], [back[id(lc)] for lc in got[2]]


def _down(i):
    # The pass-through for proc-table slot i: the same call on the lower socket.
    def call(c, *args):
        return c.lt[i](c.lc, *args)

    return call


def _by_info(i):
    # Slots that name no socket (address conversion) go to the next provider of the given chain.
    def call(*args):
        table, down = lower_of(args[-1])
        return table[i](*(args[:-1] + (down,)))

    return call


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP, "not supported by the example layer")


def WSPCleanup():
    """Drop one WSPStartup reference."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    _starts -= 1
    return 0


_TABLE = (
    WSPAccept, _by_info(_WSP_ADDRESSTOSTRING), _down(2), _down(3), _unsupported, WSPCleanup,
    WSPCloseSocket, _down(7), _unsupported, _down(9), _down(10), _down(11), _down(12), _down(13),
    _down(14), _down(15), WSPIoctl, _down(17), _down(18), WSPRecv, _down(20), WSPRecvFrom, WSPSelect,
    WSPSend, _down(24), WSPSendTo, _down(26), _down(27), WSPSocket, _by_info(_WSP_STRINGTOADDRESS),
)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    global _upcalls, _starts
    if (version & 0xFF) < 2:
        raise WSAError(10092)  # WSAVERNOTSUPPORTED
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 example counting layer"), _TABLE
