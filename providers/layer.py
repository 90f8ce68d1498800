# providers/layer: the plumbing every layered provider shares (ssllsp, capture, faults, example_lsp).
# MIT licence; part of ws2 for MicroPython.
#
# What providers/README.md "Layered providers" describes, once: find the next
# provider down a chain through the router, make the lower socket with the
# protocol info advanced one step, wrap it in our context with our own
# handle, and pass every call we do not change straight down.
from ws2.errors import WSAError, WSAEINVAL, WSAEOPNOTSUPP, WSAEPROVIDERFAILEDINIT, WSANOTINITIALISED
from ws2.port import const

_WSP_ADDRESSTOSTRING = const(1)
_WSP_CANCELBLOCKINGCALL = const(4)
_WSP_CLOSESOCKET = const(6)
_WSP_DUPLICATESOCKET = const(8)
_WSP_IOCTL = const(16)
_WSP_SELECT = const(22)
_WSP_SOCKET = const(28)
_WSP_STRINGTOADDRESS = const(29)
_WSP_TABLE_SIZE = const(30)
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)  # ws2's own (ws2/rehome, docs/spi.md "Re-homing")
_VERSION = const(0x0202)
_WSAVERNOTSUPPORTED = const(10092)
up = None  # ws2.upcalls, set by the first layer's WSPStartup


class Starts:
    """A layer's WSPStartup count: start() answers WSPStartup, stop() counts a WSPCleanup down."""

    def __init__(self, description):
        self.n = 0
        self.description = description

    def start(self, version, upcalls, table):
        """WSPStartup: ((version, high_version, description), table), counted."""
        global up
        if (version & 0xFF) < 2:
            raise WSAError(_WSAVERNOTSUPPORTED)
        up = upcalls
        self.n += 1
        return (_VERSION, _VERSION, self.description), table

    def stop(self):
        """WSPCleanup: one reference less; returns how many are left (0: do the real teardown)."""
        if self.n <= 0:
            raise WSAError(WSANOTINITIALISED)
        self.n -= 1
        return self.n


class Sock:
    """A layer's context for one socket: the lower table, context and handle, our entry and handle."""

    def __init__(self, table, lower_handle, entry_id):
        self.lt = table
        self.lh = lower_handle
        self.lc = up.WPUQuerySocketHandleContext(lower_handle)
        self.entry = entry_id
        self.handle = 0


def lower_of(info, name):
    """(proc table of the next provider down info's chain, the protocol info to hand it)."""
    chain = info.protocol_chain
    if len(chain) < 2:
        raise WSAError(WSAEINVAL, "%s is used through a protocol chain; entry %d has none" % (name, info.catalog_entry_id))
    from ws2 import catalog, provider
    from ws2.protocol_info import from_tuple

    nxt = chain[1]
    e = catalog.by_id(nxt)
    # A chain ends at a base entry (chain length 1); every step before it is a layered entry (length 0).
    if e is None or (len(e[catalog.I_CHAIN]) == 1) != (len(chain) == 2):
        raise WSAError(WSAEPROVIDERFAILEDINIT, "%s: protocol chain %r of catalog entry %d is broken: entry %d is %s"
                       % (name, chain, info.catalog_entry_id, nxt, "no longer installed" if e is None else
                          "not the kind of entry the chain needs there"))
    down = from_tuple(info.to_tuple())
    down.catalog_entry_id = nxt
    down.protocol_chain = chain[1:]
    return provider.for_entry(e).table, down


def socket(cls, af, typ, proto, info, group, flags, name):
    """WSPSocket of a layer: the lower socket, wrapped in a new cls context with our handle."""
    table, down = lower_of(info, name)
    return adopt(cls, table, table[_WSP_SOCKET](af, typ, proto, down, group, flags), info.catalog_entry_id)


def adopt(cls, table, lower_handle, entry_id):
    """Wrap a lower socket as a cls context with our own handle; on failure close it so nothing leaks."""
    try:
        c = cls(table, lower_handle, entry_id)
        c.handle = up.WPUCreateSocketHandle(entry_id, c)
    except BaseException:
        table[_WSP_CLOSESOCKET](up.WPUQuerySocketHandleContext(lower_handle))
        raise
    return c


def adopt_open(cls, lower_handle, info, handle, name):
    """WSPAdoptSocket of a layer (ws2 re-homing): a cls context over an open lower socket, answering to handle."""
    table, _ = lower_of(info, name)
    c = cls(table, lower_handle, info.catalog_entry_id)
    c.handle = handle
    return c


def ioctl(c, code, in_data, out_len, ov, cr, tid):
    """WSPIoctl of a pass-through layer: our handle moves when the socket is re-homed; other codes go down."""
    if code == _SIO_SET_SOCKET_HANDLE:
        old = c.handle
        c.handle = in_data
        return old
    return c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)


def close(c):
    """Close the lower socket, then free our handle (even when the lower close fails)."""
    try:
        c.lt[_WSP_CLOSESOCKET](c.lc)
    finally:
        up.WPUCloseSocketHandle(c.handle)
    return 0


def select(r, w, x, ms, name):
    """WSPSelect of a pass-through layer: ask below with the lower contexts, map the answer back."""
    sets = (r, w, x)
    table = None
    back = {}
    low = ([], [], [])
    for k in range(3):
        for c in sets[k]:
            if table is None:
                table = c.lt
            elif c.lt is not table:
                raise WSAError(WSAEINVAL, "%s: select over sockets of different lower providers" % name)
            back[id(c.lc)] = c
            low[k].append(c.lc)
    if table is None:
        return [], [], []
    got = table[_WSP_SELECT](low[0], low[1], low[2], ms)
    return [back[id(lc)] for lc in got[0]], [back[id(lc)] for lc in got[1]], [back[id(lc)] for lc in got[2]]


def down(i):
    """The pass-through for proc-table slot i: the same call on the lower socket."""

    def call(c, *args):
        return c.lt[i](c.lc, *args)

    return call


def by_info(i, name):
    """Slots that name no socket (address conversion): the next provider of the given chain."""

    def call(*args):
        table, d = lower_of(args[-1], name)
        return table[i](*(args[:-1] + (d,)))

    return call


def unsupported(*args):
    """WSPCancelBlockingCall and WSPDuplicateSocket: not offered by these layers."""
    raise WSAError(WSAEOPNOTSUPP, "not supported by this layer")


def table(over, name, down=down):
    """The 30-slot proc table of a layer: over maps slot -> function, each slot by its name
    (a private `_WSP_X = const(N)` copy of ws2.spiconst's WSP_X, checked by host_tests/unit/test_const_homes).

    Slots over leaves out: the socket calls pass down (down(slot); WSPIoctl through ioctl, so the
    socket can be re-homed), the address conversions go to the chain's next provider (by_info),
    WSPCancelBlockingCall and WSPDuplicateSocket are refused (unsupported).
    """
    out = []
    for i in range(_WSP_TABLE_SIZE):
        f = over.get(i)
        if f is None:
            if i in (_WSP_ADDRESSTOSTRING, _WSP_STRINGTOADDRESS):
                f = by_info(i, name)
            elif i in (_WSP_CANCELBLOCKINGCALL, _WSP_DUPLICATESOCKET):
                f = unsupported
            else:
                f = ioctl if i == _WSP_IOCTL else down(i)
        out.append(f)
    return tuple(out)
