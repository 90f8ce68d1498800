# ws2/blocking: per-thread blocking state and WSACancelBlockingCall.
# MIT licence; part of ws2 for MicroPython.
#
# A provider that blocks asks WPUQueryBlockingCallback for (callback, context)
# and calls callback(context) between slices of its wait; False means the call
# was cancelled and must fail with WSAEINTR (the Winsock SPI's blocking-hook
# protocol). Winsock 2.2 retired WSACancelBlockingCall; here it is kept
# working because a board has no other way to stop a thread's blocking call.
from ws2 import state
from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEINVAL, shown
from ws2.port import const, ticks_diff, ticks_ms

_RECENT_MS = const(500)  # a thread that checked in this recently is blocked in a call
_cancel = {}  # thread id -> True: its blocking call must end with WSAEINTR
_seen = {}  # thread id -> ticks of its last check-in from inside a blocking call


def check_in(context=None):
    """The blocking callback: False when the calling thread's blocking call was cancelled."""
    tid = state.get_ident()
    if _cancel.pop(tid, False):
        _seen.pop(tid, None)
        return False
    _seen[tid] = ticks_ms()
    return True


def done():
    """A provider's blocking call returned: forget the thread's blocking state."""
    tid = state.get_ident()
    _seen.pop(tid, None)
    _cancel.pop(tid, None)


def WSACancelBlockingCall(thread_id=None):
    """Make the blocking call in thread_id (default: the caller, e.g. from a callback) fail with WSAEINTR."""
    prolog()
    tid = state.get_ident() if thread_id is None else thread_id
    t = _seen.get(tid)
    if t is None or ticks_diff(ticks_ms(), t) > _RECENT_MS:
        raise fail(WSAError(WSAEINVAL, "thread %s has no blocking call in progress" % shown(tid)))
    _cancel[tid] = True
    return 0
