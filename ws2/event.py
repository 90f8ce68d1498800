# ws2/event: event objects, WSAWaitForMultipleEvents, per-thread APC queues, alertable sleep.
# MIT licence; part of ws2 for MicroPython.
#
# There is no kernel to signal events on a microcontroller: a thread that
# waits drives the network itself (ws2.netevents.pump records FD_* events,
# completes overlapped requests and signals event objects), in slices of at
# most _SLICE_MS so that an event set by another thread is seen promptly
# without spinning the CPU. A slice of an unchanged wait allocates nothing
# (ws2.netevents keeps what it waits on between pumps), so nothing here
# allocates per slice either: no generators, no imports in the loop.
import sys

from ws2 import state
from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSA_INVALID_HANDLE, WSA_INVALID_PARAMETER
from ws2.port import const, sleep_ms, ticks_diff, ticks_ms

_SLICE_MS = const(50)
_MAX_EVENTS = const(64)
_WAIT_IO_COMPLETION = const(0xC0)
_WAIT_TIMEOUT = const(0x102)
_INFINITE = const(0xFFFFFFFF)



class WSAEvent:
    """A manual-reset event object (what WSACreateEvent returns)."""

    def __init__(self):
        self.signalled = False
        self.closed = False

    def __repr__(self):
        return "<WSAEvent %s>" % ("closed" if self.closed else "set" if self.signalled else "reset")


def check(event):
    """Return event if it is an open WSAEvent, else raise WSA_INVALID_HANDLE."""
    if not isinstance(event, WSAEvent) or event.closed:
        raise WSAError(WSA_INVALID_HANDLE, "%r is not an open event object" % (event,))
    return event


def WSACreateEvent():
    """Create a manual-reset, non-signalled event object."""
    prolog()
    return WSAEvent()


def WSASetEvent(event):
    """Signal an event object."""
    try:
        check(event).signalled = True
    except Exception as e:
        raise fail(e)
    return True


def WSAResetEvent(event):
    """Reset an event object to non-signalled."""
    try:
        check(event).signalled = False
    except Exception as e:
        raise fail(e)
    return True


def WSACloseEvent(event):
    """Close an event object; later use is WSA_INVALID_HANDLE."""
    try:
        check(event).closed = True
    except Exception as e:
        raise fail(e)
    return True


# -- APCs: completion routines run in the issuing thread's next alertable wait --

_apcs = {}  # thread id -> list of (routine, args)


def queue_apc(thread_id, routine, args):
    """Queue routine(*args) for thread_id's next alertable wait (WPUQueueApc)."""
    with state.lock:
        q = _apcs.get(thread_id)
        if q is None:
            q = _apcs[thread_id] = []
        q.append((routine, args))
    return 0


def run_apcs():
    """Run the calling thread's queued APCs; return how many ran."""
    me = state.get_ident()
    n = 0
    while True:
        with state.lock:
            q = _apcs.get(me)
            if not q:
                return n
            routine, args = q.pop(0)
        n += 1
        try:
            routine(*args)
        except Exception as e:  # a routine's failure must not stop the others
            print("ws2: warning: completion routine raised %r" % (e,))


def pending_apcs():
    """True when the calling thread has APCs waiting."""
    return bool(_apcs.get(state.get_ident()))


def _pump(ms):
    # Drive the network for at most ms; sleep if nothing network-side is waited on.
    ne = sys.modules.get("ws2.netevents")
    if ne is None or not ne.pump(ms):
        if ms:
            sleep_ms(ms)


def _all_set(events):
    for e in events:
        if not e.signalled:
            return False
    return True


def WSAWaitForMultipleEvents(events, wait_all=False, timeout_ms=_INFINITE, alertable=False):
    """Wait until one (or all) events are signalled; returns WSA_WAIT_EVENT_0 + i, WSA_WAIT_TIMEOUT or WSA_WAIT_IO_COMPLETION."""
    prolog()
    try:
        events = list(events)
        if not 0 < len(events) <= _MAX_EVENTS:
            raise WSAError(WSA_INVALID_PARAMETER, "wait on 1 to 64 events, not %d" % len(events))
        for e in events:
            check(e)
        if not _is_ms(timeout_ms):
            raise WSAError(WSA_INVALID_PARAMETER, "timeout_ms must be an int >= 0 or WSA_INFINITE")
    except Exception as e:
        raise fail(e)
    start = ticks_ms()
    while True:
        if alertable and run_apcs():
            return _WAIT_IO_COMPLETION
        for e in events:
            if e.closed:
                raise fail(WSAError(WSA_INVALID_HANDLE, "an event was closed while waited on"))
        if wait_all:
            if _all_set(events):
                return 0
        else:
            for i in range(len(events)):
                if events[i].signalled:
                    return i
        left = _SLICE_MS
        if timeout_ms != _INFINITE:
            left = timeout_ms - ticks_diff(ticks_ms(), start)
            if left <= 0:
                _pump(0)  # a last look at the network before giving up
                if wait_all and _all_set(events):
                    return 0
                if not wait_all:
                    for i in range(len(events)):
                        if events[i].signalled:
                            return i
                return _WAIT_TIMEOUT
        _pump(min(left, _SLICE_MS))


def _is_ms(v):
    # A DWORD of milliseconds: 0 to WSA_INFINITE.
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _INFINITE


def sleep_alertable(ms):
    """SleepEx: sleep up to ms, driving the network and async-select callbacks; returns WSA_WAIT_IO_COMPLETION if APCs ran, else 0."""
    if not _is_ms(ms):
        raise fail(WSAError(WSA_INVALID_PARAMETER, "ms must be an int from 0 to WSA_INFINITE"))
    start = ticks_ms()
    while True:
        if run_apcs():
            return _WAIT_IO_COMPLETION
        left = ms - ticks_diff(ticks_ms(), start)
        if left <= 0:
            return 0
        _pump(min(left, _SLICE_MS))
