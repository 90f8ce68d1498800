# ws2/handles: the compact, preallocated socket handle table.
# MIT licence; part of ws2 for MicroPython.
#
# A handle is (generation << 8) | (slot + 1): never 0, and a small int on every
# port. The generation moves on each time a slot is freed, so a stale handle
# held after closesocket no longer equals live[slot] and is WSAENOTSOCK rather
# than somebody else's socket. Lookup is one index and one compare; nothing is
# allocated after init().
from ws2 import state
from ws2.errors import WSAError, WSAEMFILE, WSAENOTSOCK, WSANOTINITIALISED, shown

from ws2.port import const, micropython  # noqa: F401

_SLOT_MASK = const(0xFF)
_GEN_SHIFT = const(8)
_GEN_MASK = const(0x1FFFFF)  # keeps handles within a 30-bit small int

F_IFS = const(1)  # context is the provider's own pollable object (WPUModifyIFSHandle)
F_LAYERED = const(2)  # made by WPUCreateSocketHandle for a non-IFS or layered provider
F_EVENTS = const(4)  # has a WSAEventSelect/WSAAsyncSelect registration (the pump watches it)
F_PENDING = const(8)  # has overlapped requests in flight (closesocket must abort them)

capacity = 0
live = []  # slot -> handle while in use; -(last handle) when free, for the next generation
ctx = []  # slot -> the provider's socket context
prov = []  # slot -> the owning Provider object
entry = []  # slot -> catalog entry id the socket was made for
flags = bytearray(0)
_next = 0  # where the free-slot search starts (round robin spreads generations)


def init(n):
    """Size the table for n sockets (only while it is empty)."""
    global capacity, live, ctx, prov, entry, flags, _next
    # A handle from before the resize must stay stale: every slot restarts
    # above the highest generation any slot has used.
    g = 0
    for h in live:
        h = (h if h > 0 else -h) >> _GEN_SHIFT
        if h > g:
            g = h
    capacity = n
    live = [-(g << _GEN_SHIFT)] * n
    ctx = [None] * n
    prov = [None] * n
    entry = [0] * n
    flags = bytearray(n)
    _next = 0


def alloc(provider, context, catalog_id, f):
    """Allocate a handle for (provider, context); WSAEMFILE when the table is full."""
    global _next
    n = capacity
    with state.lock:
        i = _next
        for _ in range(n):
            if live[i] <= 0:
                g = (((-live[i]) >> _GEN_SHIFT) + 1) & _GEN_MASK or 1
                h = (g << _GEN_SHIFT) | (i + 1)
                live[i] = h
                ctx[i] = context
                prov[i] = provider
                entry[i] = catalog_id
                flags[i] = f
                _next = i + 1 if i + 1 < n else 0
                return h
            i = i + 1 if i + 1 < n else 0
    raise WSAError(WSAEMFILE, "all %d socket handles are in use" % n)


def free(i):
    """Free slot i (its handle becomes stale)."""
    live[i] = -live[i]
    ctx[i] = None
    prov[i] = None
    flags[i] = 0


def bad_handle(h):
    """The error for a handle that is not a live socket."""
    if not state.started:
        return WSAError(WSANOTINITIALISED)
    return WSAError(WSAENOTSOCK, "handle %s is not an open socket" % shown(h))


@micropython.native
def slot(h):
    """Return the slot of live handle h, or raise WSAENOTSOCK / WSANOTINITIALISED."""
    try:
        i = (h & _SLOT_MASK) - 1
        if i >= 0 and live[i] == h and h > 0:
            return i
    except (TypeError, IndexError):
        pass
    e = bad_handle(h)
    state.set_last_error(e.args[0])
    raise e


def open_handles():
    """Return the list of live handles (for cleanup and enumeration)."""
    return [h for h in live if h > 0]
