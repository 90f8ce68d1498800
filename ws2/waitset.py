# ws2/waitset: what a wait asks the providers (one Group per provider) and the one wait loop over them.
# MIT licence; part of ws2 for MicroPython.
#
# The pump (ws2.netevents), select and WSAPoll (ws2.sockselect) all wait the
# same way: the sockets of each provider in a Group (handles, contexts, wanted
# and ready bits), each Group asked through the provider's own select entry
# when it offers one (WSPIoctl SIO_PUMP_SELECT / SIO_SELECT_INTO: wspm's is a
# persistent poller answering in a bytearray), else through its WSPSelect.
# A kept Group allocates nothing to be waited on again; only its sets for
# WSPSelect are rebuilt, and only after a change.
from ws2 import handles
from ws2.errors import WSAError, WSAEWOULDBLOCK, wsa_code
from ws2.port import const, sleep_ms, ticks_diff, ticks_ms

_WSP_IOCTL = const(16)
_WSP_RECV = const(19)
_WSP_SELECT = const(22)
_MSG_PEEK = const(0x2)
_MSG_DONTWAIT = const(0x40)
_PEEK_NONE = const(-1)
_PEEK_CLOSED = const(0)
_PEEK_DATA = const(1)
_MULTI_SLICE_MS = const(10)
_GEN_MASK = const(0xFFFFFF)  # generations wrap: they must stay small ints


class Group:
    """One provider's share of a wait: its handles, contexts, wanted and ready bits (entries 0..n-1)."""

    def __init__(self, p, cap):
        self.p = p
        self.fast = None  # the provider's select entry (SIO_PUMP_SELECT / SIO_SELECT_INTO), else None: its WSPSelect
        self.probed = False
        self.n = 0  # entries in use
        self.gen = 0  # moves at every rebuild: tells the select entry its set may have changed
        self.sets = None  # (read, write, except) context lists for WSPSelect
        self.size(cap)

    def size(self, cap):
        self.hs = [0] * cap
        self.ctxs = [None] * cap
        self.want = bytearray(cap)
        self.ready = bytearray(cap)


def put(groups, s, w, merge):
    """Add handle s with WANT_* bits w to its provider's Group in groups (made if missing); False for a stale handle.

    merge: s may be there already (its bits are added to its entry then).
    """
    try:
        i = handles.slot(s)
    except WSAError:
        return False
    p = handles.prov[i]
    g = None
    for x in groups:
        if x.p is p:
            g = x
            break
    if g is None:
        g = Group(p, handles.capacity)
        groups.append(g)
    n = g.n
    if merge:
        for j in range(n):
            if g.hs[j] == s:
                g.want[j] |= w
                return True
    g.hs[n] = s
    g.ctxs[n] = handles.ctx[i]
    g.want[n] = w
    g.n = n + 1
    return True


def release(g):
    """Let go of the contexts past g's entries (closed sockets' contexts are not kept alive) and move g's generation."""
    ctxs = g.ctxs
    for i in range(g.n, len(ctxs)):
        if ctxs[i] is None:
            break
        ctxs[i] = None
    g.gen = (g.gen + 1) & _GEN_MASK


def prepare(g, code):
    """After a rebuild: ask the provider for its select entry (code) once, else make g's WSPSelect sets."""
    if not g.probed:
        resolve(g, code)
    if g.fast is None:
        sets(g)


def resolve(g, code):
    """Ask g's provider for its select entry (WSPIoctl code) once; g.fast is it, or stays None."""
    # The answer names the context it was asked on: a layer that passes the ioctl down gets its base
    # provider's entry with the base's context, which must not be used on the layer's contexts, so it
    # is refused here and the layer's WSPSelect is used.
    c = g.ctxs[0]
    try:
        got = g.p.table[_WSP_IOCTL](c, code, None, 0, None, None, None)
    except MemoryError:
        return  # no memory to load the provider's code now: ask again at the next rebuild
    except Exception:
        g.probed = True  # the provider's answer: no such entry
        return
    g.probed = True
    if isinstance(got, tuple) and len(got) == 2 and got[1] is c and callable(got[0]):
        g.fast = got[0]


def sets(g):
    """Make the (read, write, except) context lists g's WSPSelect is asked with (each context once a list)."""
    g.sets = ([], [], [])
    ctxs = g.ctxs
    for i in range(g.n):
        for b in range(3):
            if g.want[i] & (1 << b) and ctxs[i] not in g.sets[b]:
                g.sets[b].append(ctxs[i])


def select_one(g, ms):
    """Wait up to ms (None: forever) on g's sockets; fill g.ready[0..n-1]; return how many are ready."""
    if g.fast is not None:
        return g.fast(g.ctxs, g.want, g.n, g.gen, ms, g.ready)
    r, w, x = g.sets
    got = g.p.table[_WSP_SELECT](r, w, x, ms)
    hits = 0
    for i in range(g.n):
        c = g.ctxs[i]
        want = g.want[i]
        b = 0
        for k in range(3):
            if want & (1 << k):
                for d in got[k]:
                    if d is c:
                        b |= 1 << k
                        break
        g.ready[i] = b
        if b:
            hits += 1
    return hits


def wait(groups, ms):
    """Wait up to ms (None: forever) on every Group with entries; return how many entries are ready (see each g.ready)."""
    live = 0
    one = None
    for g in groups:
        if g.n:
            live += 1
            one = g
    if not live:
        if ms:
            sleep_ms(ms)
        return 0
    if live == 1:
        return select_one(one, ms)
    # Sockets of several providers: no single native wait covers them all, so
    # look at each in short slices (rare: mixing e.g. TLS and plain sockets).
    start = ticks_ms()
    while True:
        got = 0
        for g in groups:
            if g.n:
                got += select_one(g, 0)
        if got or ms == 0:
            return got
        left = _MULTI_SLICE_MS if ms is None else ms - ticks_diff(ticks_ms(), start)
        if left <= 0:
            return 0
        sleep_ms(left if left < _MULTI_SLICE_MS else _MULTI_SLICE_MS)


def peek(s):
    """What a readable stream socket holds: fdrules.PEEK_DATA, PEEK_CLOSED, PEEK_NONE or a WSA error code."""
    # (The provider is called directly: no argument tuple; the 1-byte answer is all it allocates.)
    try:
        i = handles.slot(s)
        data = handles.prov[i].table[_WSP_RECV](handles.ctx[i], 1, _MSG_PEEK | _MSG_DONTWAIT, None, None, None)[0]
        return _PEEK_DATA if data else _PEEK_CLOSED
    except Exception as e:
        code = wsa_code(e)
        return _PEEK_NONE if code == WSAEWOULDBLOCK else code
