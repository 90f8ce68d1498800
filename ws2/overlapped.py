# ws2/overlapped: overlapped I/O: WSAOverlapped, pending requests, completion, WSAGetOverlappedResult.
# MIT licence; part of ws2 for MicroPython.
#
# The router runs overlapped requests for every provider: it tries the
# operation at once without blocking (MSG_DONTWAIT); what cannot finish is
# queued on the socket and retried by ws2.netevents.pump when the provider
# says the socket is ready. Completion is Winsock's: results stored in the
# WSAOverlapped, its event signalled, and the completion routine queued as an
# APC to the issuing thread, run in that thread's next alertable wait.
from ws2 import event, handles, state
from ws2.dispatch import fail
from ws2.errors import (WSAError, WSAEFAULT, WSAEINVAL, WSAEWOULDBLOCK, WSA_IO_INCOMPLETE,
                        WSA_IO_PENDING, WSA_OPERATION_ABORTED, wsa_code)
from ws2.port import const

_F_PENDING = const(8)
_MSG_DONTWAIT = const(0x40)
_CHANGES_MASK = const(0xFFFFFF)  # the change count wraps: it must stay a small int
_WSP_IOCTL = const(16)
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
SEND = const(0)
RECV = const(1)
SENDTO = const(2)
RECVFROM = const(3)
IOCTL = const(4)


class WSAOverlapped:
    """An overlapped request's state: its event, and once complete its error, byte count and flags."""

    def __init__(self, event=None):
        self.event = event
        self.pending = False
        self.done = False
        self.error = 0
        self.transferred = 0
        self.flags = 0
        self.address = None
        self.result = None

    def __repr__(self):
        state_ = "pending" if self.pending else "done" if self.done else "idle"
        return "<WSAOverlapped %s error=%d transferred=%d>" % (state_, self.error, self.transferred)


class _Op:
    def __init__(self, s, kind, buffers, flags, addr, ov, routine, thread):
        self.s = s
        self.kind = kind
        self.buffers = buffers
        self.flags = flags
        self.addr = addr
        self.ov = ov
        self.routine = routine
        self.thread = thread
        self.reads = kind in (RECV, RECVFROM)


pending = {}  # handle -> [_Op] in issue order; changes shape under state.lock
changes = 0  # moves after every change to pending (ws2.netevents rebuilds what it waits on then)


def _changed():
    global changes
    changes = (changes + 1) & _CHANGES_MASK


def _drop(q, op):
    # Take op off its queue (the shape changes under the lock) and tell the pump.
    with state.lock:
        q.remove(op)
    _changed()


def _attempt(op):
    # One non-blocking try of op; returns (count, flags, address, result).
    i = handles.slot(op.s)
    t = handles.prov[i].table
    c = handles.ctx[i]
    f = op.flags | _MSG_DONTWAIT
    if op.kind == SEND:
        return t[_WSP_SEND](c, op.buffers, f, None, None, None), 0, None, None
    if op.kind == SENDTO:
        return t[_WSP_SENDTO](c, op.buffers, f, op.addr, None, None, None), 0, None, None
    if op.kind == RECV:
        n, fl = t[_WSP_RECV](c, op.buffers, f, None, None, None)
        return n, fl, None, None
    if op.kind == RECVFROM:
        n, fl, a = t[_WSP_RECVFROM](c, op.buffers, f, None, None, None)
        return n, fl, a, None
    out = t[_WSP_IOCTL](c, op.buffers[0], op.buffers[1], op.buffers[2], None, None, None)
    return 0 if out is None else len(out) if isinstance(out, (bytes, bytearray)) else 0, 0, None, out


def complete(op, error, transferred, flags=0, address=None, result=None):
    """Record op's outcome, signal its event and queue its completion routine (WPUCompleteOverlappedRequest)."""
    ov = op.ov
    ov.error = error
    ov.transferred = transferred
    ov.flags = flags
    ov.address = address
    ov.result = result
    ov.pending = False
    ov.done = True
    if ov.event is not None:
        ov.event.signalled = True
    if op.routine is not None:
        event.queue_apc(op.thread, op.routine, (error, transferred, ov, flags))


def complete_request(s, ov, error, transferred, flags=0):
    """Complete the pending request of s that uses ov (WPUCompleteOverlappedRequest)."""
    if not isinstance(ov, WSAOverlapped):
        raise WSAError(WSAEFAULT, "overlapped must be a WSAOverlapped")
    q = pending.get(s) or []
    for op in q:
        if op.ov is ov:
            _drop(q, op)
            complete(op, error, transferred, flags)
            _tidy(s)
            return 0
    complete(_Op(s, SEND, None, 0, None, ov, None, state.get_ident()), error, transferred, flags)
    return 0


def submit(s, kind, buffers, flags, addr, ov, routine):
    """Start an overlapped request; return its result if it completed at once, else raise WSA_IO_PENDING."""
    try:
        if not isinstance(ov, WSAOverlapped):
            raise WSAError(WSAEFAULT, "overlapped must be a WSAOverlapped")
        if ov.pending:
            raise WSAError(WSAEINVAL, "this WSAOverlapped is already in use")
        if routine is not None and not callable(routine):
            raise WSAError(WSAEFAULT, "completion routine must be callable")
        if ov.event is not None:
            event.check(ov.event)
            ov.event.signalled = False
        ov.done = False
        op = _Op(s, kind, buffers, flags, addr, ov, routine, state.get_ident())
        i = handles.slot(s)
        if not pending.get(s):  # requests on a socket complete in order: only try if none waits
            try:
                n, fl, a, out = _attempt(op)
            except Exception as e:
                if wsa_code(e) != WSAEWOULDBLOCK:
                    raise
            else:
                complete(op, 0, n, fl, a, out)  # completed at once: event and routine still happen
                return _result(op)
        ov.pending = True
        from ws2 import netevents  # noqa: F401 - waits drive the pump only once it is loaded
        with state.lock:
            q = pending.get(s)
            if q is None:
                q = pending[s] = []
            q.append(op)
            handles.flags[i] |= _F_PENDING
        _changed()
        raise WSAError(WSA_IO_PENDING)
    except Exception as e:
        raise fail(e)


def _result(op):
    ov = op.ov
    if op.kind == RECV:
        return ov.transferred, ov.flags
    if op.kind == RECVFROM:
        return ov.transferred, ov.flags, ov.address
    if op.kind == IOCTL:
        return ov.result
    return ov.transferred


def progress(s, readable):
    """The socket s became ready: finish what pending requests can (called by the pump)."""
    q = pending.get(s)
    while q:
        op = q[0]
        if op.reads != readable:
            return
        try:
            n, fl, a, out = _attempt(op)
        except Exception as e:
            code = wsa_code(e)
            if code == WSAEWOULDBLOCK:
                return
            _drop(q, op)
            complete(op, code, 0)
            continue
        _drop(q, op)
        complete(op, 0, n, fl, a, out)
    _tidy(s)


def _tidy(s):
    with state.lock:  # (a submit in another thread may be queueing on s right now)
        if s not in pending or pending[s]:
            return
        del pending[s]
        try:
            handles.flags[handles.slot(s)] &= ~_F_PENDING
        except WSAError:
            pass
    _changed()


def abort(s):
    """s is closing: complete its pending requests with WSA_OPERATION_ABORTED."""
    with state.lock:
        q = pending.pop(s, None)
    if q is not None:
        _changed()
    for op in q or ():
        complete(op, WSA_OPERATION_ABORTED, 0)


def WSAGetOverlappedResult(s, ov, wait=False):
    """Return (transferred, flags) of a finished overlapped request; wait=True drives it to completion."""
    try:
        handles.slot(s)
        if not isinstance(ov, WSAOverlapped):
            raise WSAError(WSAEFAULT, "overlapped must be a WSAOverlapped")
        while ov.pending:
            if not wait:
                raise WSAError(WSA_IO_INCOMPLETE)
            from ws2 import netevents

            netevents.pump(50)
        if ov.error:
            raise WSAError(ov.error)
        return ov.transferred, ov.flags
    except Exception as e:
        raise fail(e)
