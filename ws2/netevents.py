# ws2/netevents: network events (WSAEventSelect, WSAEnumNetworkEvents, WSAAsyncSelect), select, WSAPoll, the pump.
# MIT licence; part of ws2 for MicroPython.
#
# Windows records FD_* events from the kernel; here pump() does it whenever a
# thread waits in ws2: it asks each owning provider's WSPSelect which
# registered sockets are ready, applies Winsock's recording and re-enabling
# rules, signals event objects, delivers async-select callbacks and completes
# overlapped requests. Only sockets whose armed events could fire are asked,
# so a socket with an unread FD_READ does not make the pump spin.
#
# A wake-up allocates nothing in the steady state (same registrations,
# nothing changed since the last pump): a board's waits wake the pump every
# slice, and garbage made there would mean a collection every few seconds on
# an idle board. So what the pump asks each provider (its _Group: handles,
# contexts, wanted bits, ready bits) is kept between pumps and rebuilt only
# when a generation counter moved: changed() is called after anything that
# alters it (register, cancel, close, rearm, a recorded event, a pending
# connect), and ws2.overlapped counts its queue changes the same way. A
# provider that offers the pump a select entry of its own (WSPIoctl
# SIO_PUMP_SELECT, as wspm does: a persistent poller, ipoll, answers in a
# bytearray) is waited on through it; any other through its WSPSelect.
import sys
import time

from ws2 import handles, state
from ws2.dispatch import fail, prolog
from ws2.errors import (WSAError, WSAECONNRESET, WSAEINVAL, WSAENOTSOCK, WSAEWOULDBLOCK,
                        WSANOTINITIALISED, wsa_code)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_FD_READ = const(0x01)
_FD_WRITE = const(0x02)
_FD_OOB = const(0x04)
_FD_ACCEPT = const(0x08)
_FD_CONNECT = const(0x10)
_FD_CLOSE = const(0x20)
_FD_ALL = const(0x3FF)
_F_EVENTS = const(4)
_F_PENDING = const(8)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_RECV = const(19)
_WSP_SELECT = const(22)
_SOL_SOCKET = const(0xFFFF)
_SO_ACCEPTCONN = const(0x0002)
_SO_ERROR = const(0x1007)
_SO_TYPE = const(0x1008)
_SOCK_STREAM = const(1)
_FIONBIO = const(0x8004667E)
_MSG_PEEK = const(0x2)
_MSG_DONTWAIT = const(0x40)
_POLLRDNORM = const(0x0100)
_POLLRDBAND = const(0x0200)
_POLLWRNORM = const(0x0010)
_POLLERR = const(0x0001)
_POLLHUP = const(0x0002)
_POLLNVAL = const(0x0004)
_MULTI_SLICE_MS = const(10)
_BUSY_SLICE_MS = const(10)
_SIO_PUMP_SELECT = const(0x58000002)  # ws2's own WSPIoctl code: the provider's pump select entry (see _resolve)
_SIO_SELECT_INTO = const(0x58000003)  # the same for select (see _Kept)
_SLOT_MASK = const(0xFF)  # a handle's low byte is its slot + 1 (ws2.handles)
_GEN_MASK = const(0xFFFFFF)  # generations wrap: they must stay small ints
_R = const(1)  # _Group.want / .ready bits
_W = const(2)
_X = const(4)

try:
    _sleep_ms = time.sleep_ms
    _ticks = time.ticks_ms
    _diff = time.ticks_diff
except AttributeError:  # CPython
    from ws2.event import _diff, _sleep_ms, _ticks


class _Reg:
    """One socket's WSAEventSelect / WSAAsyncSelect registration."""

    def __init__(self, s, event, callback, mask, stream, listening):
        self.s = s
        self.event = event
        self.callback = callback
        self.mask = mask
        self.recorded = 0
        self.errors = [0] * 10
        self.armed = mask & ~_FD_CONNECT  # FD_CONNECT arms when a connect is pending
        self.stream = stream
        self.listening = listening
        self.connecting = False


regs = {}  # handle -> _Reg


def _bit(ev):
    b = 0
    while ev > 1:
        ev >>= 1
        b += 1
    return b


def _record(reg, ev, err=0):
    reg.recorded |= ev
    reg.errors[_bit(ev)] = err
    if reg.armed & ev:
        reg.armed &= ~ev
        changed()
    if reg.event is not None:
        reg.event.signalled = True


def _ctx_call(s, index, *args):
    i = handles.slot(s)
    return handles.prov[i].table[index](handles.ctx[i], *args)


_gen = 0  # moves after every change to what the pump watches
_built = -1  # _gen when the groups were last built
_built_ov = -1  # ws2.overlapped.changes then
_groups = []  # one _Group per provider with registered or pending sockets
# Only one thread pumps at a time: the groups, and a provider's pump select
# (one poller), have one user. Another thread that would pump meanwhile sleeps
# a short slice instead (the pumping thread records events and signals event
# objects for every socket; the waiter sees its event at its next look).
_plock = state.allocate_lock()
_NO_PENDING = {}


def changed():
    """What the pump watches changed: rebuild its groups before the next wait."""
    global _gen
    _gen = (_gen + 1) & _GEN_MASK


# -- waiting on providers ------------------------------------------------------------------

def wait_groups(groups, ms):
    """WSAPoll's wait: ask each provider's WSPSelect about its sockets; block up to ms (None: forever) when only one provider is involved.

    groups: {provider: (read ctxs, write ctxs, except ctxs)}; returns {provider: (r, w, x)}.
    """
    out = {}
    anything = False
    for p, (r, w, x) in groups.items():
        got = p.table[_WSP_SELECT](r, w, x, 0)
        out[p] = got
        anything = anything or got[0] or got[1] or got[2]
    if anything or ms == 0:
        return out
    if len(groups) == 1:
        for p, (r, w, x) in groups.items():
            out[p] = p.table[_WSP_SELECT](r, w, x, ms)
        return out
    # Sockets of several providers: no single native wait covers them all, so
    # look at each in short slices (rare: mixing e.g. TLS and plain sockets).
    start = _ticks()
    while True:
        for p, (r, w, x) in groups.items():
            got = p.table[_WSP_SELECT](r, w, x, 0)
            out[p] = got
            if got[0] or got[1] or got[2]:
                return out
        left = _MULTI_SLICE_MS if ms is None else ms - _diff(_ticks(), start)
        if left <= 0:
            return out
        _sleep_ms(min(left, _MULTI_SLICE_MS))


def _peek(s):
    # What a readable stream socket holds: 1 = data, 0 = orderly close, else a WSA error code.
    # (Called directly, not through _ctx_call: no argument tuple; the 1-byte answer is all it allocates.)
    try:
        i = handles.slot(s)
        data = handles.prov[i].table[_WSP_RECV](handles.ctx[i], 1, _MSG_PEEK | _MSG_DONTWAIT, None, None, None)[0]
        return 1 if data else 0
    except Exception as e:
        code = wsa_code(e)
        return -1 if code == WSAEWOULDBLOCK else code


# -- the pump -------------------------------------------------------------------------------

class _Group:
    """One provider's share of the pump, kept between wake-ups: its handles, contexts, wanted and ready bits."""

    def __init__(self, p, cap):
        self.p = p
        self.fast = None  # the provider's pump select (SIO_PUMP_SELECT), else None: its WSPSelect
        self.probed = False
        self.n = 0  # entries in use
        self.gen = 0  # moves at every rebuild: tells the pump select its set may have changed
        self.sets = None  # (read, write, except) context lists for WSPSelect
        self.size(cap)

    def size(self, cap):
        self.hs = [0] * cap
        self.ctxs = [None] * cap
        self.want = bytearray(cap)
        self.ready = bytearray(cap)


def pump(ms):
    """Drive registered sockets and pending overlapped requests for up to ms; False when there are none."""
    global _built, _built_ov
    ov = sys.modules.get("ws2.overlapped")
    pending = _NO_PENDING if ov is None else ov.pending
    if not regs and not pending:
        if _groups and _plock.acquire(0):
            _groups.clear()  # nothing watched: let providers and contexts go
            _built = -1
            _plock.release()
        return False
    if not _plock.acquire(0):
        if ms:
            _sleep_ms(ms if ms < _BUSY_SLICE_MS else _BUSY_SLICE_MS)
        return True
    try:
        oc = 0 if ov is None else ov.changes
        if _gen != _built or oc != _built_ov:
            g = _gen
            _rebuild(pending)
            _built = g
            _built_ov = oc
        callbacks = _wake(ms, pending, ov)
    finally:
        _plock.release()
    if callbacks is not None:
        for cb, s, ev, err in callbacks:
            cb(s, ev, err)
    return True


def _rebuild(pending):
    # Refill the groups from regs and pending (only after a change; nothing is allocated while sizes hold).
    cap = handles.capacity
    for g in _groups:
        g.n = 0
        if len(g.hs) < cap:
            g.size(cap)
    stale = None
    with state.lock:  # regs and pending change shape under it
        for s in regs:
            reg = regs[s]
            armed = reg.armed
            w = 0
            if armed & (_FD_READ | _FD_OOB) or (reg.listening and armed & _FD_ACCEPT) or \
                    (armed & _FD_CLOSE and not reg.mask & _FD_READ):
                w = _R
            if reg.connecting:
                w |= _W | _X
            elif armed & _FD_WRITE:
                w |= _W
            if w and not _put(s, w, False):
                stale = s
        for s in pending:
            ops = pending[s]
            if ops:
                _put(s, _R if ops[0].reads else _W, s in regs)
        if stale is not None:
            regs.pop(stale, None)  # closed without closesocket (WSACleanup): one per rebuild, the next goes next time
            changed()
    k = 0
    while k < len(_groups):
        g = _groups[k]
        n = g.n
        ctxs = g.ctxs
        for i in range(n, len(ctxs)):  # do not keep closed sockets' contexts alive
            if ctxs[i] is None:
                break
            ctxs[i] = None
        if not n and g.p.sockets <= 0:
            _groups.pop(k)  # the provider has no sockets left
            continue
        k += 1
        g.gen = (g.gen + 1) & _GEN_MASK
        if n and not g.probed:
            _resolve(g)
        if n and g.fast is None:
            _sets(g)


def _sets(g):
    # The (read, write, except) context lists g's WSPSelect is asked with (each context once a list).
    g.sets = ([], [], [])
    ctxs = g.ctxs
    for i in range(g.n):
        for b in range(3):
            if g.want[i] & (1 << b) and ctxs[i] not in g.sets[b]:
                g.sets[b].append(ctxs[i])


def _put(s, w, merge):
    # Add handle s with wanted bits w to its provider's group; False for a stale handle.
    try:
        i = handles.slot(s)
    except WSAError:
        return False
    p = handles.prov[i]
    g = None
    for x in _groups:
        if x.p is p:
            g = x
            break
    if g is None:
        g = _Group(p, handles.capacity)
        _groups.append(g)
    n = g.n
    if merge:  # a socket both registered and with pending requests
        for j in range(n):
            if g.hs[j] == s:
                g.want[j] |= w
                return True
    g.hs[n] = s
    g.ctxs[n] = handles.ctx[i]
    g.want[n] = w
    g.n = n + 1
    return True


def _resolve(g, code=_SIO_PUMP_SELECT):
    # Ask the provider for its pump select (select's: SIO_SELECT_INTO) once per group. The answer names
    # the context it was asked on: a layer that passes the ioctl down gets its base
    # provider's entry with the base's context, which must not be used on the
    # layer's contexts, so it is refused here and the layer's WSPSelect is used.
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


def _select(g, ms):
    # Wait up to ms on g's sockets; fill g.ready[0..n-1]; return how many are ready.
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


def _wake(ms, pending, ov):
    # One wait on every group, then the recording; returns the async-select callbacks to run (or None).
    live = 0
    one = None
    for g in _groups:
        if g.n:
            live += 1
            one = g
    if not live:
        if ms:
            _sleep_ms(ms)
        return None
    if live == 1:
        if not _select(one, ms):
            return None
    elif not _select_all(ms):
        return None
    callbacks = None
    for g in _groups:
        ready = g.ready
        for i in range(g.n):
            b = ready[i]
            if b:
                s = g.hs[i]
                if b & _R:
                    callbacks = _readable(s, callbacks, pending, ov)
                if b & _W:
                    callbacks = _writable(s, callbacks, pending, ov, 0)
                if b & _X:
                    callbacks = _writable(s, callbacks, pending, ov, 1)
    return callbacks


def _select_all(ms):
    # Sockets of several providers: no single native wait covers them all, so
    # look at each in short slices (rare: mixing e.g. TLS and plain sockets).
    start = _ticks()
    while True:
        got = 0
        for g in _groups:
            if g.n:
                got += _select(g, 0)
        if got or ms == 0:
            return got
        left = _MULTI_SLICE_MS if ms is None else ms - _diff(_ticks(), start)
        if left <= 0:
            return 0
        _sleep_ms(left if left < _MULTI_SLICE_MS else _MULTI_SLICE_MS)


def _add(groups, where, s, r, w, x):
    # WSAPoll's grouping (a fresh one per call: WSAPoll's caller keeps what it gets).
    try:
        i = handles.slot(s)
    except WSAError:
        return
    p = handles.prov[i]
    c = handles.ctx[i]
    g = groups.get(p)
    if g is None:
        g = groups[p] = ([], [], [])
    if r and c not in g[0]:
        g[0].append(c)
    if w and c not in g[1]:
        g[1].append(c)
    if x and c not in g[2]:
        g[2].append(c)
    where[id(c)] = s


def _deliver(reg, callbacks, before):
    new = reg.recorded & ~before
    if reg.callback is None or not new:
        return callbacks
    # WSAAsyncSelect: each recorded event becomes one callback, consumed at delivery.
    if callbacks is None:
        callbacks = []
    for ev in (_FD_CONNECT, _FD_ACCEPT, _FD_READ, _FD_OOB, _FD_WRITE, _FD_CLOSE):
        if new & ev:
            callbacks.append((reg.callback, reg.s, ev, reg.errors[_bit(ev)]))
    reg.recorded &= ~new
    return callbacks


def _readable(s, callbacks, pending, ov):
    reg = regs.get(s)
    if reg is not None:
        before = reg.recorded
        if reg.listening:
            if reg.armed & _FD_ACCEPT:
                _record(reg, _FD_ACCEPT)
        elif not reg.stream:
            if reg.armed & _FD_READ:
                _record(reg, _FD_READ)
        else:
            what = _peek(s)
            if what == 1:
                if reg.armed & _FD_READ:
                    _record(reg, _FD_READ)
            elif what >= 0:  # 0: orderly close; else a WSA error code
                if reg.armed & _FD_CLOSE:
                    err = 0 if what == 0 else WSAECONNRESET if what == WSAENOTSOCK else what
                    _record(reg, _FD_CLOSE, err)
                if reg.armed & (_FD_READ | _FD_CLOSE):
                    reg.armed &= ~(_FD_READ | _FD_CLOSE)
                    changed()
        callbacks = _deliver(reg, callbacks, before)
    if s in pending:
        ov.progress(s, True)
    return callbacks


def _writable(s, callbacks, pending, ov, failed):
    reg = regs.get(s)
    if reg is not None:
        before = reg.recorded
        if reg.connecting:
            reg.connecting = False
            changed()
            try:
                err = _ctx_call(s, _WSP_GETSOCKOPT, _SOL_SOCKET, _SO_ERROR)
            except Exception as e:
                err = wsa_code(e)
            if reg.mask & _FD_CONNECT:
                _record(reg, _FD_CONNECT, err)
            if not err and reg.mask & _FD_WRITE:
                _record(reg, _FD_WRITE)
            elif err:
                reg.armed &= ~_FD_WRITE
        elif reg.armed & _FD_WRITE and not failed:
            _record(reg, _FD_WRITE)
        callbacks = _deliver(reg, callbacks, before)
    if s in pending and not failed:
        ov.progress(s, False)
    return callbacks


# -- the re-enabling functions call these (via ws2.sockio / socklife / sockctrl) --------------

def rearm(s, events):
    """A re-enabling call was made on s: let events be recorded again."""
    reg = regs.get(s)
    if reg is not None:
        armed = reg.armed | (events & reg.mask)
        if armed != reg.armed:  # a recv on a socket whose FD_READ is armed already changes nothing
            reg.armed = armed
            changed()


def connecting(s):
    """A non-blocking connect is under way on s: FD_CONNECT will report its outcome."""
    reg = regs.get(s)
    if reg is not None and not reg.connecting:
        reg.connecting = True
        changed()


def forget(s):
    """s is closing: drop its registration (closesocket cancels WSAEventSelect)."""
    with state.lock:
        reg = regs.pop(s, None)
    if reg is not None:
        changed()


# -- public API --------------------------------------------------------------------------------

def _register(s, event, callback, mask):
    i = handles.slot(s)
    if not isinstance(mask, int) or mask & ~_FD_ALL:
        raise WSAError(WSAEINVAL, "network event mask 0x%x has unknown bits" % (mask,))
    if mask == 0:
        with state.lock:
            regs.pop(s, None)
        handles.flags[i] &= ~_F_EVENTS
        changed()
        return 0
    # Registration makes the socket non-blocking, as Winsock does.
    _ctx_call(s, _WSP_IOCTL, _FIONBIO, 1, 4, None, None, None)
    stream = _ctx_call(s, _WSP_GETSOCKOPT, _SOL_SOCKET, _SO_TYPE) == _SOCK_STREAM
    try:
        listening = bool(_ctx_call(s, _WSP_GETSOCKOPT, _SOL_SOCKET, _SO_ACCEPTCONN))
    except WSAError:
        listening = False
    old = regs.get(s)
    reg = _Reg(s, event, callback, mask, stream, listening)
    if old is not None:
        reg.connecting = old.connecting
        reg.recorded = old.recorded & mask
    with state.lock:
        regs[s] = reg
    handles.flags[i] |= _F_EVENTS
    changed()
    return 0


def WSAEventSelect(s, event, mask):
    """Record the FD_* events of mask on s and signal event when one is recorded (mask 0 cancels)."""
    try:
        if event is not None or mask:
            from ws2.event import check

            check(event)
        return _register(s, event, None, mask)
    except Exception as e:
        raise fail(e)


def WSAAsyncSelect(s, callback, mask):
    """Deliver the FD_* events of mask on s as callback(s, event, error) from ws2's wait loop (mask 0 cancels)."""
    try:
        if mask and not callable(callback):
            raise WSAError(WSAEINVAL, "callback must be callable")
        return _register(s, None, callback, mask)
    except Exception as e:
        raise fail(e)


def WSAEnumNetworkEvents(s, event=None):
    """Return (events, error_codes) recorded for s and clear them; reset event if given."""
    try:
        handles.slot(s)
        if event is not None:
            from ws2.event import check

            check(event)
        pump(0)
        reg = regs.get(s)
        if reg is None:
            if event is not None:
                event.signalled = False
            return 0, [0] * 10
        with state.lock:
            ev = reg.recorded
            errs = reg.errors
            reg.recorded = 0
            reg.errors = [0] * 10
            if event is not None:
                event.signalled = False
        return ev, errs
    except Exception as e:
        raise fail(e)


def _timeout_ms(timeout):
    if timeout is None:
        return None
    if not (isinstance(timeout, int) or isinstance(timeout, float)) or timeout < 0:  # (no tuple built per call)
        raise WSAError(WSAEINVAL, "timeout must be None or seconds >= 0")
    return int(timeout * 1000)


# -- select -----------------------------------------------------------------------------------
# A select loop (the same sets call after call, as code ported to boards
# does) costs only the lists it returns. What select asks the provider (a
# _Group: handles, contexts, wanted and ready bits) is kept between calls, one
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


class _Kept(_Group):
    """select's _Group for one provider: also the handles it was built from and where each handle's entry is."""

    def __init__(self, p, cap):
        self.seq = []  # the handles of the last read, write and except sets, one after the other
        self.lens = [-1, -1, -1]  # and how many each set had (-1: rebuild)
        _Group.__init__(self, p, cap)

    def size(self, cap):
        _Group.size(self, cap)
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
    # the provider's entry is called here, not through _select: one frame less.
    out = [], [], []
    if not g.probed or not _same(g, r, w, x):
        _build(g, r, w, x)  # (not probed: no memory to ask the provider last time, ask again)
    if g.fast(g.ctxs, g.want, g.n, g.gen, ms, g.ready) if g.fast is not None else _select(g, ms):
        _pick(g, r, _R, out[0])
        _pick(g, w, _W, out[1])
        _pick(g, x, _X, out[2])
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
    _enter(g, x, _X, _enter(g, w, _W, _enter(g, r, _R, 0)))
    g.lens[0] = len(r)
    g.lens[1] = len(w)
    g.lens[2] = len(x)
    ctxs = g.ctxs
    for i in range(g.n, len(ctxs)):  # do not keep contexts of sockets no longer asked about
        if ctxs[i] is None:
            break
        ctxs[i] = None
    g.gen = (g.gen + 1) & _GEN_MASK
    if not g.probed:
        _resolve(g, _SIO_SELECT_INTO)
    if g.fast is None:
        _sets(g)


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
        groups = {}
        where = {}
        for f in fds:
            if not isinstance(f, WSAPOLLFD):
                raise WSAError(10014, "WSAPoll takes WSAPOLLFD objects")  # WSAEFAULT
            f.revents = 0
            try:
                handles.slot(f.fd)
            except WSAError as e:
                if e.args[0] == WSANOTINITIALISED:
                    raise
                f.revents = _POLLNVAL
                continue
            _add(groups, where, f.fd, f.events & (_POLLRDNORM | _POLLRDBAND), f.events & _POLLWRNORM, True)
        ms = None if timeout_ms < 0 else timeout_ms
        if groups and not any(f.revents for f in fds):
            ready = wait_groups(groups, ms)
        else:
            ready = wait_groups(groups, 0) if groups else {}
        rd = {}
        for p, (r, w, x) in ready.items():
            for c in r:
                rd[where[id(c)]] = rd.get(where[id(c)], 0) | _POLLRDNORM
            for c in w:
                rd[where[id(c)]] = rd.get(where[id(c)], 0) | _POLLWRNORM
            for c in x:
                rd[where[id(c)]] = rd.get(where[id(c)], 0) | _POLLERR
        for f in fds:
            if f.revents:
                continue
            got = rd.get(f.fd, 0)
            if got & _POLLRDNORM:
                i = handles.slot(f.fd)
                p = handles.prov[i]
                stream = p.table[_WSP_GETSOCKOPT](handles.ctx[i], _SOL_SOCKET, _SO_TYPE) == _SOCK_STREAM
                listening = stream and p.table[_WSP_GETSOCKOPT](handles.ctx[i], _SOL_SOCKET, _SO_ACCEPTCONN)
                what = _peek(f.fd) if stream and not listening else 1
                if what == 0:
                    got = (got & ~_POLLRDNORM) | _POLLHUP
                elif what > 0 and what != 1:
                    got = (got & ~_POLLRDNORM) | _POLLERR | _POLLHUP
                got &= f.events | _POLLHUP | _POLLERR
            f.revents = got
        return sum(1 for f in fds if f.revents)
    except Exception as e:
        raise fail(e)
