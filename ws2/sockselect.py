# ws2/sockselect: select and WSAPoll: which sockets are readable, writable or in error now.
# MIT licence; part of ws2 for MicroPython.
#
# Both wait through ws2.waitset (one Group per provider, the provider's own
# select entry when it has one, else its WSPSelect); WSAPoll's revents rules
# are ws2.fdrules'.
from ws2 import fdrules, handles, state, waitset
from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEFAULT, WSAEINVAL, WSANOTINITIALISED
from ws2.fdrules import WANT_EXCEPT, WANT_READ, WANT_WRITE
from ws2.port import const

_WSP_GETSOCKOPT = const(14)
_SOL_SOCKET = const(0xFFFF)
_SO_ACCEPTCONN = const(0x0002)
_SO_TYPE = const(0x1008)
_SOCK_STREAM = const(1)
_SLOT_MASK = const(0xFF)  # a handle's low byte is its slot + 1 (ws2.handles)
_POLLNVAL = const(0x0004)
_POLLRDNORM = const(0x0100)
_PEEK_DATA = const(1)
_SIO_SELECT_INTO = const(0x58000003)  # ws2's own WSPIoctl code: the provider's select entry (waitset.resolve)


def _timeout_ms(timeout):
    if timeout is None:
        return None
    if not (isinstance(timeout, int) or isinstance(timeout, float)) or timeout < 0:  # (no tuple built per call)
        raise WSAError(WSAEINVAL, "timeout must be None or seconds >= 0")
    return int(timeout * 1000)


# -- select -----------------------------------------------------------------------------------
# A select loop (the same sets call after call, as code ported to boards
# does) costs only the lists it returns. What select asks the provider (a
# waitset.Group: handles, contexts, wanted and ready bits) is kept between calls, one
# group per provider, on the Provider object, so it goes when the provider
# does; it is rebuilt only when the sets hold other handles than at the last
# call (an open handle is always the same socket: its generation moves at
# close). A provider that offers a select entry of its own (WSPIoctl
# SIO_SELECT_INTO: wspm's is a persistent poller, a second one beside the
# pump's) is waited on through it, any other through its WSPSelect. The kept
# groups and the providers' select entries have one user at a time: select
# holds _slock across its wait, and a select on another thread meanwhile asks
# WSPSelect with a group of its own, as every select did before.
_slock = state.allocate_lock()


class _Kept(waitset.Group):
    """select's Group for one provider: also the handles it was built from and where each handle's entry is."""

    def __init__(self, p, cap):
        self.seq = []  # the handles of the last read, write and except sets, one after the other
        self.lens = [-1, -1, -1]  # and how many each set had (-1: rebuild)
        waitset.Group.__init__(self, p, cap)

    def size(self, cap):
        waitset.Group.size(self, cap)
        self.pos = bytearray(cap)  # slot -> index of its entry (when hs[index] is the handle)


def _fds(fds):
    # One of select's sets as a sequence: a list or tuple as it is (not copied), any other iterable listed.
    if not fds:
        return ()
    t = type(fds)
    return fds if t is list or t is tuple else list(fds)


def select(readfds, writefds, exceptfds, timeout=None):
    """Winsock select over handles of one provider; returns the (read, write, except) lists that are ready."""
    if not state.started:
        prolog()
    try:
        # (the common shapes inline: a select loop makes this call thousands of times)
        r = readfds if readfds.__class__ is list else _fds(readfds)
        w = writefds if writefds.__class__ is list else _fds(writefds)
        x = exceptfds if exceptfds.__class__ is list else _fds(exceptfds)
        if not (r or w or x):
            raise WSAError(WSAEINVAL, "select needs at least one socket")
        ms = None if timeout is None else (timeout * 1000 if timeout.__class__ is int and timeout >= 0
                                           else _timeout_ms(timeout))
        p = handles.prov[handles.slot(r[0] if r else w[0] if w else x[0])]
        if not _slock.acquire(0):
            g = _Kept(p, handles.capacity)  # another thread is in select: a group of this call's own
            g.probed = True  # and WSPSelect (the provider's select entry has one user at a time)
            return _select_sets(g, r, w, x, ms)
        try:
            g = getattr(p, "select_group", None)
            if g is None:
                g = p.select_group = _Kept(p, handles.capacity)
            return _select_sets(g, r, w, x, ms)
        finally:
            _slock.release()
    except Exception as e:
        raise fail(e)


def _select_sets(g, r, w, x, ms):
    # select on g's provider: g rebuilt if the sets changed; the ready handles of each set in its order.
    # The answer's lists are made first: made after the wait, in the holes the calls' frames leave on
    # the heap (MicroPython puts a frame of more than 11 words there), they fragment it, and a select
    # loop slows down as its garbage builds up (unix port, 1 socket: 25-40 us a call, not 8). For the same reason
    # the provider's entry is called here, not through waitset.select_one: one frame less.
    out = [], [], []
    if not g.probed or not _same(g, r, w, x):
        _build(g, r, w, x)  # (not probed: no memory to ask the provider last time, ask again)
    if g.fast(g.ctxs, g.want, g.n, g.gen, ms, g.ready) if g.fast is not None else waitset.select_one(g, ms):
        _pick(g, r, WANT_READ, out[0])
        _pick(g, w, WANT_WRITE, out[1])
        _pick(g, x, WANT_EXCEPT, out[2])
    return out


def _same(g, r, w, x):
    # Do the sets hold the handles g was built from, in the same order, all still open (else WSAENOTSOCK)?
    lens = g.lens
    if len(r) != lens[0] or len(w) != lens[1] or len(x) != lens[2]:
        return False
    seq = g.seq
    slot = handles.slot
    j = 0
    for s in r:
        slot(s)
        if seq[j] != s:
            return False
        j += 1
    for s in w:
        slot(s)
        if seq[j] != s:
            return False
        j += 1
    for s in x:
        slot(s)
        if seq[j] != s:
            return False
        j += 1
    return True


def _build(g, r, w, x):
    # Refill g from the sets: one entry per handle, its wanted bits; every handle g's provider's (else WSAEINVAL).
    cap = handles.capacity
    if len(g.hs) < cap:
        g.size(cap)
    g.n = 0
    g.lens[0] = -1  # until all is checked: a failure half-way leaves g to be rebuilt
    _enter(g, x, WANT_EXCEPT, _enter(g, w, WANT_WRITE, _enter(g, r, WANT_READ, 0)))
    g.lens[0] = len(r)
    g.lens[1] = len(w)
    g.lens[2] = len(x)
    waitset.release(g)  # (contexts of sockets no longer asked about are not kept)
    waitset.prepare(g, _SIO_SELECT_INTO)


def _enter(g, fds, bit, j):
    # Give fds' handles entries in g (wanted bit added) and note them in g.seq from j on; return the next j.
    seq = g.seq
    for s in fds:
        i = handles.slot(s)
        if handles.prov[i] is not g.p:
            raise WSAError(WSAEINVAL, "select's sockets must all belong to one provider")
        k = g.pos[i]
        if k >= g.n or g.hs[k] != s:
            k = g.n
            g.n = k + 1
            g.pos[i] = k
            g.hs[k] = s
            g.ctxs[k] = handles.ctx[i]
            g.want[k] = 0
        g.want[k] |= bit
        if j < len(seq):
            seq[j] = s
        else:
            seq.append(s)
        j += 1
    return j


def _pick(g, fds, bit, out):
    # Append to out the handles of fds whose entry has bit ready, in fds' order, each once.
    for s in fds:
        k = g.pos[(s & _SLOT_MASK) - 1]
        if k < g.n and g.hs[k] == s and g.ready[k] & bit:
            g.ready[k] ^= bit
            out.append(s)


class WSAPOLLFD:
    """One WSAPoll entry: fd (a socket), events (POLLRDNORM, POLLWRNORM, ...) and revents (the answer)."""

    def __init__(self, fd, events):
        self.fd = fd
        self.events = events
        self.revents = 0

    def __repr__(self):
        return "WSAPOLLFD(fd=%r, events=0x%x, revents=0x%x)" % (self.fd, self.events, self.revents)


def WSAPoll(fds, timeout_ms=-1):
    """Poll WSAPOLLFD entries (timeout_ms < 0 waits forever); fills revents and returns how many have any."""
    prolog()
    try:
        fds = list(fds)
        if not fds:
            raise WSAError(WSAEINVAL, "WSAPoll needs at least one WSAPOLLFD")
        if not isinstance(timeout_ms, int):
            raise WSAError(WSAEINVAL, "timeout_ms must be an int")
        groups = []  # a fresh Group per provider, asked through WSPSelect: WSAPoll's caller keeps what it gets
        bad = False
        for f in fds:
            if not isinstance(f, WSAPOLLFD):
                raise WSAError(WSAEFAULT, "WSAPoll takes WSAPOLLFD objects")
            f.revents = 0
            try:
                handles.slot(f.fd)
            except WSAError as e:
                if e.args[0] == WSANOTINITIALISED:
                    raise
                f.revents = _POLLNVAL
                bad = True
                continue
            waitset.put(groups, f.fd, fdrules.poll_wants(f.events), True)
        for g in groups:
            g.probed = True
            waitset.sets(g)
        # An entry already answered (POLLNVAL): the others are only looked at.
        ms = 0 if bad else None if timeout_ms < 0 else timeout_ms
        ready = {}
        if groups and waitset.wait(groups, ms):
            for g in groups:
                for i in range(g.n):
                    if g.ready[i]:
                        ready[g.hs[i]] = fdrules.poll_ready(g.ready[i])
        n = 0
        for f in fds:
            if not f.revents:
                f.revents = _revents(f, ready.get(f.fd, 0))
            if f.revents:
                n += 1
        return n
    except Exception as e:
        raise fail(e)


def _revents(f, got):
    # f's revents from its provider's answer: a readable connected stream socket is peeked (data or close?).
    what = _PEEK_DATA
    if got & _POLLRDNORM:
        i = handles.slot(f.fd)
        p = handles.prov[i]
        stream = p.table[_WSP_GETSOCKOPT](handles.ctx[i], _SOL_SOCKET, _SO_TYPE) == _SOCK_STREAM
        listening = stream and p.table[_WSP_GETSOCKOPT](handles.ctx[i], _SOL_SOCKET, _SO_ACCEPTCONN)
        if fdrules.needs_peek(stream, listening):
            what = waitset.peek(f.fd)
    return fdrules.revents(got, f.events, what)
