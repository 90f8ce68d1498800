# ws2/netevents: network events (WSAEventSelect, WSAEnumNetworkEvents, WSAAsyncSelect) and the pump that records them.
# MIT licence; part of ws2 for MicroPython.
#
# Windows records FD_* events from the kernel; here pump() does it whenever a
# thread waits in ws2: it asks each owning provider which registered sockets
# are ready (ws2.waitset), applies Winsock's recording and re-enabling rules
# (ws2.fdrules: pure functions of the registration's bits), signals event
# objects, delivers async-select callbacks and completes overlapped requests.
# Only sockets whose armed events could fire are asked, so a socket with an
# unread FD_READ does not make the pump spin.
#
# A wake-up allocates nothing in the steady state (same registrations,
# nothing changed since the last pump): a board's waits wake the pump every
# slice, and garbage made there would mean a collection every few seconds on
# an idle board. So what the pump asks each provider (its waitset.Group) is
# kept between pumps and rebuilt only when a generation counter moved:
# changed() is called after anything that alters it (register, cancel, close,
# rearm, a recorded event, a pending connect), and ws2.overlapped counts its
# queue changes the same way. A provider that offers the pump a select entry
# of its own (WSPIoctl SIO_PUMP_SELECT, as wspm does) is waited on through it;
# any other through its WSPSelect.
import sys

from ws2 import fdrules, handles, state, waitset
from ws2.dispatch import fail
from ws2.errors import WSAError, WSAEINVAL, wsa_code
from ws2.fdrules import WANT_EXCEPT, WANT_READ, WANT_WRITE
from ws2.port import const, sleep_ms

_FD_CONNECT = const(0x10)
_FD_MAX_EVENTS = const(10)
_F_EVENTS = const(4)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_SOL_SOCKET = const(0xFFFF)
_SO_ACCEPTCONN = const(0x0002)
_SO_ERROR = const(0x1007)
_SO_TYPE = const(0x1008)
_SOCK_STREAM = const(1)
_FIONBIO = const(0x8004667E)
_PEEK_DATA = const(1)
_BUSY_SLICE_MS = const(10)
_SIO_PUMP_SELECT = const(0x58000002)  # ws2's own WSPIoctl code: the provider's pump select entry (waitset.resolve)
_GEN_MASK = const(0xFFFFFF)  # generations wrap: they must stay small ints


class _Reg:
    """One socket's WSAEventSelect / WSAAsyncSelect registration."""

    def __init__(self, s, event, callback, mask, stream, listening):
        self.s = s
        self.event = event
        self.callback = callback
        self.mask = mask
        self.recorded = 0
        self.errors = [0] * _FD_MAX_EVENTS
        self.armed = fdrules.armed_at_registration(mask)
        self.stream = stream
        self.listening = listening
        self.connecting = False


regs = {}  # handle -> _Reg


def _record(reg, ev, err=0):
    # Record the one-bit event ev with its error code; it waits for its re-enabling call from now on.
    reg.recorded |= ev
    reg.errors[fdrules.bit(ev)] = err
    if reg.armed & ev:
        reg.armed = fdrules.after_record(reg.armed, ev)
        changed()
    if reg.event is not None:
        reg.event.signalled = True


def _record_each(reg, events, err):
    # Record every event of events (FD_CONNECT with err, the others with 0).
    for ev in fdrules.DELIVERY:
        if events & ev:
            _record(reg, ev, err if ev == _FD_CONNECT else 0)


def _disarm(reg, events):
    if reg.armed & events:
        reg.armed &= ~events
        changed()


def _ctx_call(s, index, *args):
    i = handles.slot(s)
    return handles.prov[i].table[index](handles.ctx[i], *args)


_gen = 0  # moves after every change to what the pump watches
_built = -1  # _gen when the groups were last built
_built_ov = -1  # ws2.overlapped.changes then
_groups = []  # one waitset.Group per provider with registered or pending sockets
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


# -- the pump -------------------------------------------------------------------------------

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
            sleep_ms(ms if ms < _BUSY_SLICE_MS else _BUSY_SLICE_MS)
        return True
    try:
        oc = 0 if ov is None else ov.changes
        if _gen != _built or oc != _built_ov:
            g = _gen
            _rebuild(pending)
            _built = g
            _built_ov = oc
        callbacks = _wake(ms, pending, ov) if waitset.wait(_groups, ms) else None
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
            w = fdrules.watch(reg.armed, reg.mask, reg.listening, reg.connecting)
            if w and not waitset.put(_groups, s, w, False):
                stale = s
        for s in pending:
            ops = pending[s]
            if ops:
                waitset.put(_groups, s, WANT_READ if ops[0].reads else WANT_WRITE, s in regs)
        if stale is not None:
            regs.pop(stale, None)  # closed without closesocket (WSACleanup): one per rebuild, the next goes next time
            changed()
    k = 0
    while k < len(_groups):
        g = _groups[k]
        waitset.release(g)
        if not g.n and g.p.sockets <= 0:
            _groups.pop(k)  # the provider has no sockets left
            continue
        k += 1
        if g.n:
            waitset.prepare(g, _SIO_PUMP_SELECT)


def _wake(ms, pending, ov):
    # The recording after a wait that found sockets ready; returns the async-select callbacks to run (or None).
    callbacks = None
    for g in _groups:
        ready = g.ready
        for i in range(g.n):
            b = ready[i]
            if b:
                s = g.hs[i]
                if b & WANT_READ:
                    callbacks = _readable(s, callbacks, pending, ov)
                if b & WANT_WRITE:
                    callbacks = _writable(s, callbacks, pending, ov, 0)
                if b & WANT_EXCEPT:
                    callbacks = _writable(s, callbacks, pending, ov, 1)
    return callbacks


def _deliver(reg, callbacks, before):
    new = reg.recorded & ~before
    if reg.callback is None or not new:
        return callbacks
    # WSAAsyncSelect: each recorded event becomes one callback, consumed at delivery.
    if callbacks is None:
        callbacks = []
    for ev in fdrules.DELIVERY:
        if new & ev:
            callbacks.append((reg.callback, reg.s, ev, reg.errors[fdrules.bit(ev)]))
    reg.recorded &= ~new
    return callbacks


def _readable(s, callbacks, pending, ov):
    reg = regs.get(s)
    if reg is not None:
        before = reg.recorded
        what = waitset.peek(s) if fdrules.needs_peek(reg.stream, reg.listening) else _PEEK_DATA
        ev = fdrules.readable(reg.armed, reg.listening, what)
        if ev:
            _record(reg, ev, fdrules.close_error(what) if what != _PEEK_DATA else 0)
        _disarm(reg, fdrules.readable_disarms(reg.armed, reg.listening, what))
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
            _record_each(reg, fdrules.connected(reg.mask, err), err)
            reg.armed &= ~fdrules.connected_disarms(err)
        else:
            ev = fdrules.writable(reg.armed, failed)
            if ev:
                _record(reg, ev)
        callbacks = _deliver(reg, callbacks, before)
    if s in pending and not failed:
        ov.progress(s, False)
    return callbacks


# -- the re-enabling functions call these (via ws2.sockio / socklife / sockctrl) --------------

def rearm(s, events):
    """A re-enabling call was made on s: let events be recorded again."""
    reg = regs.get(s)
    if reg is not None:
        armed = fdrules.rearm(reg.armed, reg.mask, events)
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
    if not fdrules.check_mask(mask):
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
        reg.recorded = fdrules.kept_at_reregistration(old.recorded, mask)
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
            return 0, [0] * _FD_MAX_EVENTS
        with state.lock:
            ev = reg.recorded
            errs = reg.errors
            reg.recorded = 0
            reg.errors = [0] * _FD_MAX_EVENTS
            if event is not None:
                event.signalled = False
        return ev, errs
    except Exception as e:
        raise fail(e)
