# ws2/netevents: network events (WSAEventSelect, WSAEnumNetworkEvents, WSAAsyncSelect), select, WSAPoll, the pump.
# MIT licence; part of ws2 for MicroPython.
#
# Windows records FD_* events from the kernel; here pump() does it whenever a
# thread waits in ws2: it asks each owning provider's WSPSelect which
# registered sockets are ready, applies Winsock's recording and re-enabling
# rules, signals event objects, delivers async-select callbacks and completes
# overlapped requests. Only sockets whose armed events could fire are asked,
# so a socket with an unread FD_READ does not make the pump spin.
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
    reg.armed &= ~ev
    if reg.event is not None:
        reg.event.signalled = True


def _ctx_call(s, index, *args):
    i = handles.slot(s)
    return handles.prov[i].table[index](handles.ctx[i], *args)


# -- waiting on providers ------------------------------------------------------------------

def wait_groups(groups, ms):
    """Ask each provider's WSPSelect about its sockets; block up to ms (None: forever) when only one provider is involved.

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
    from ws2.event import _diff, _sleep_ms, _ticks

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
    try:
        data = _ctx_call(s, _WSP_RECV, 1, _MSG_PEEK | _MSG_DONTWAIT, None, None, None)[0]
        return 1 if data else 0
    except Exception as e:
        code = wsa_code(e)
        return -1 if code == WSAEWOULDBLOCK else code


# -- the pump -------------------------------------------------------------------------------

def pump(ms):
    """Drive registered sockets and pending overlapped requests for up to ms; False when there are none."""
    import sys

    ov = sys.modules.get("ws2.overlapped")
    pending = ov.pending if ov is not None else {}
    if not regs and not pending:
        return False
    groups = {}
    where = {}  # id(ctx) -> handle
    for s, reg in list(regs.items()):
        want_r = reg.armed & (_FD_READ | _FD_OOB) or (reg.listening and reg.armed & _FD_ACCEPT) or \
            (reg.armed & _FD_CLOSE and not reg.mask & _FD_READ)
        want_w = reg.connecting or reg.armed & _FD_WRITE
        if want_r or want_w:
            _add(groups, where, s, want_r, want_w, reg.connecting)
    for s, ops in list(pending.items()):
        if ops:
            _add(groups, where, s, ops[0].reads, not ops[0].reads, False)
    if not groups:
        if ms:
            from ws2.event import _sleep_ms

            _sleep_ms(ms)
        return True
    ready = wait_groups(groups, ms)
    callbacks = []
    for p, (r, w, x) in ready.items():
        for c in r:
            _readable(where.get(id(c)), callbacks, pending)
        for c in w:
            _writable(where.get(id(c)), callbacks, pending, 0)
        for c in x:
            _writable(where.get(id(c)), callbacks, pending, 1)
    for cb, s, ev, err in callbacks:
        cb(s, ev, err)
    return True


def _add(groups, where, s, r, w, x):
    try:
        i = handles.slot(s)
    except WSAError:
        regs.pop(s, None)
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
        return
    # WSAAsyncSelect: each recorded event becomes one callback, consumed at delivery.
    for ev in (_FD_CONNECT, _FD_ACCEPT, _FD_READ, _FD_OOB, _FD_WRITE, _FD_CLOSE):
        if new & ev:
            callbacks.append((reg.callback, reg.s, ev, reg.errors[_bit(ev)]))
    reg.recorded &= ~new


def _readable(s, callbacks, pending):
    if s is None:
        return
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
            elif what == 0:
                if reg.armed & _FD_CLOSE:
                    _record(reg, _FD_CLOSE)
                reg.armed &= ~(_FD_READ | _FD_CLOSE)
            elif what > 0:
                if reg.armed & _FD_CLOSE:
                    _record(reg, _FD_CLOSE, what if what != WSAENOTSOCK else WSAECONNRESET)
                reg.armed &= ~(_FD_READ | _FD_CLOSE)
        _deliver(reg, callbacks, before)
    if s in pending:
        from ws2 import overlapped

        overlapped.progress(s, True)


def _writable(s, callbacks, pending, failed):
    if s is None:
        return
    reg = regs.get(s)
    if reg is not None:
        before = reg.recorded
        if reg.connecting:
            reg.connecting = False
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
        _deliver(reg, callbacks, before)
    if s in pending and not failed:
        from ws2 import overlapped

        overlapped.progress(s, False)


# -- the re-enabling functions call these (via ws2.sockio / socklife / sockctrl) --------------

def rearm(s, events):
    """A re-enabling call was made on s: let events be recorded again."""
    reg = regs.get(s)
    if reg is not None:
        reg.armed |= events & reg.mask


def connecting(s):
    """A non-blocking connect is under way on s: FD_CONNECT will report its outcome."""
    reg = regs.get(s)
    if reg is not None:
        reg.connecting = True


def forget(s):
    """s is closing: drop its registration (closesocket cancels WSAEventSelect)."""
    regs.pop(s, None)


# -- public API --------------------------------------------------------------------------------

def _register(s, event, callback, mask):
    i = handles.slot(s)
    if not isinstance(mask, int) or mask & ~_FD_ALL:
        raise WSAError(WSAEINVAL, "network event mask 0x%x has unknown bits" % (mask,))
    if mask == 0:
        regs.pop(s, None)
        handles.flags[i] &= ~_F_EVENTS
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
    regs[s] = reg
    handles.flags[i] |= _F_EVENTS
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
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise WSAError(WSAEINVAL, "timeout must be None or seconds >= 0")
    return int(timeout * 1000)


def select(readfds, writefds, exceptfds, timeout=None):
    """Winsock select over handles of one provider; returns the (read, write, except) lists that are ready."""
    prolog()
    try:
        sets = (list(readfds or ()), list(writefds or ()), list(exceptfds or ()))
        if not (sets[0] or sets[1] or sets[2]):
            raise WSAError(WSAEINVAL, "select needs at least one socket")
        ms = _timeout_ms(timeout)
        prov = None
        ctxs = ([], [], [])
        back = {}
        for k in range(3):
            for s in sets[k]:
                i = handles.slot(s)
                p = handles.prov[i]
                if prov is None:
                    prov = p
                elif p is not prov:
                    raise WSAError(WSAEINVAL, "select's sockets must all belong to one provider")
                ctxs[k].append(handles.ctx[i])
                back[id(handles.ctx[i])] = s
        got = prov.table[_WSP_SELECT](ctxs[0], ctxs[1], ctxs[2], ms)
        return ([back[id(c)] for c in got[0]], [back[id(c)] for c in got[1]], [back[id(c)] for c in got[2]])
    except Exception as e:
        raise fail(e)


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
