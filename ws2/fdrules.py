# ws2/fdrules: Winsock's network-event rules as pure functions: which FD_* event is recorded when, which call re-enables which.
# MIT licence; part of ws2 for MicroPython.
#
# No I/O and no provider calls here: ws2.netevents (the pump) asks the
# providers and the sockets, then asks these functions what the answers mean
# for a registration, and applies the result. Every function takes and returns
# small ints (no tuple, no list): the pump calls them on its hot path, which
# must not allocate.
#
# A registration's state, as the pump keeps it:
#   mask     the FD_* events the application asked for (WSAEventSelect/WSAAsyncSelect)
#   armed    the events that may be recorded now (an event recorded is not recorded
#            again until its re-enabling call: Winsock's edge rule)
#   connecting  a non-blocking connect is under way (FD_CONNECT will tell how it ends)
#   listening   the socket listens (readable means FD_ACCEPT)
# What a stream socket's readable state means comes from a 1-byte peek: `what` is
# PEEK_DATA, PEEK_CLOSED, PEEK_NONE (nothing there after all) or a WSA error code.
from ws2.port import const

_FD_READ = const(0x01)
_FD_WRITE = const(0x02)
_FD_OOB = const(0x04)
_FD_ACCEPT = const(0x08)
_FD_CONNECT = const(0x10)
_FD_CLOSE = const(0x20)
_FD_ALL_EVENTS = const(0x3FF)  # FD_READ .. FD_ADDRESS_LIST_CHANGE: ten events, ten error slots

# What the pump asks a provider's select about a socket (the pump select's want bits too).
WANT_READ = const(1)
WANT_WRITE = const(2)
WANT_EXCEPT = const(4)

# A peek's answer on a readable stream socket (a positive WSA error code otherwise).
PEEK_NONE = const(-1)  # WSAEWOULDBLOCK: nothing to read after all
PEEK_CLOSED = const(0)  # an orderly close (0 bytes)
PEEK_DATA = const(1)

_WSAENOTSOCK = const(10038)
_WSAECONNRESET = const(10054)

# The order WSAAsyncSelect delivers the events recorded by one wake-up (Windows' message order).
DELIVERY = (_FD_CONNECT, _FD_ACCEPT, _FD_READ, _FD_OOB, _FD_WRITE, _FD_CLOSE)

# The re-enabling calls: which events each family of calls arms again (docs/winsock.md, "Network events").
RECV_REENABLES = const(0x05)  # recv, recv_into, recvfrom, WSARecv, WSARecvFrom: FD_READ | FD_OOB
SEND_REENABLES = const(0x02)  # send, sendto, WSASend, WSASendTo that hit WSAEWOULDBLOCK: FD_WRITE
ACCEPT_REENABLES = const(0x08)  # accept, WSAAccept (even one that fails): FD_ACCEPT


def bit(ev):
    """FD_*_BIT of a one-bit event: the index of its error code in WSAEnumNetworkEvents' list."""
    b = 0
    while ev > 1:
        ev >>= 1
        b += 1
    return b


def check_mask(mask):
    """True when mask is an int holding only FD_* bits."""
    return isinstance(mask, int) and not mask & ~_FD_ALL_EVENTS


def armed_at_registration(mask):
    """What a new registration may record: its mask, FD_CONNECT only once a connect is pending."""
    return mask & ~_FD_CONNECT


def kept_at_reregistration(recorded, mask):
    """What a registration replacing another keeps of the events recorded and not yet enumerated."""
    return recorded & mask


def watch(armed, mask, listening, connecting):
    """The WANT_* bits the pump asks a registered socket's provider about (0: nothing could be recorded)."""
    w = 0
    # FD_CLOSE shows as readable; with FD_READ in the mask it waits for FD_READ's re-enabling call
    # (the data before the close is read first), without it readable alone is asked for.
    if armed & (_FD_READ | _FD_OOB) or (listening and armed & _FD_ACCEPT) or \
            (armed & _FD_CLOSE and not mask & _FD_READ):
        w = WANT_READ
    if connecting:
        w |= WANT_WRITE | WANT_EXCEPT  # the connect's end: writable (success) or except (failure)
    elif armed & _FD_WRITE:
        w |= WANT_WRITE
    return w


def needs_peek(stream, listening):
    """True when readable alone does not say which event it is (a connected stream socket: data or close)."""
    return stream and not listening


def readable(armed, listening, what):
    """The event a readable socket records (0: none); what is the peek's answer (PEEK_DATA when not peeked)."""
    if listening:
        return armed & _FD_ACCEPT
    if what == PEEK_DATA:
        return armed & _FD_READ
    if what >= 0:  # closed, or an error code
        return armed & _FD_CLOSE
    return 0


def readable_disarms(armed, listening, what):
    """The events a readable socket stops watching: once the peer closed, FD_READ and FD_CLOSE (recorded or not)."""
    if not listening and what >= 0 and what != PEEK_DATA:
        return armed & (_FD_READ | _FD_CLOSE)
    return 0


def close_error(what):
    """FD_CLOSE's error code from the peek's answer: 0 for an orderly close, WSAECONNRESET for a reset."""
    if what == PEEK_CLOSED:
        return 0
    return _WSAECONNRESET if what == _WSAENOTSOCK else what


def connected(mask, err):
    """The events recorded when a pending connect ends with err (0: connected): FD_CONNECT, and FD_WRITE on success."""
    ev = mask & _FD_CONNECT
    if not err:
        ev |= mask & _FD_WRITE
    return ev


def connected_disarms(err):
    """The events a connect that failed with err stops watching: FD_WRITE (no sending on a failed connect)."""
    return _FD_WRITE if err else 0


def writable(armed, failed):
    """The event a writable socket records (0: none); failed: the provider reported an exception instead."""
    if failed:
        return 0
    return armed & _FD_WRITE


def rearm(armed, mask, events):
    """armed after a re-enabling call for events (only the mask's events come back)."""
    return armed | (events & mask)


def after_record(armed, ev):
    """armed after ev was recorded: ev waits for its re-enabling call."""
    return armed & ~ev


# -- WSAPoll --------------------------------------------------------------------------------

_POLLERR = const(0x0001)
_POLLHUP = const(0x0002)
_POLLWRNORM = const(0x0010)
_POLLRDNORM = const(0x0100)
_POLLRDBAND = const(0x0200)


def poll_wants(events):
    """The WANT_* bits WSAPoll asks about for a WSAPOLLFD's events (except always: errors are always reported)."""
    w = WANT_EXCEPT
    if events & (_POLLRDNORM | _POLLRDBAND):
        w |= WANT_READ
    if events & _POLLWRNORM:
        w |= WANT_WRITE
    return w


def poll_ready(ready):
    """The revents bits of a provider's answer (WANT_* bits) before the peek."""
    got = 0
    if ready & WANT_READ:
        got |= _POLLRDNORM
    if ready & WANT_WRITE:
        got |= _POLLWRNORM
    if ready & WANT_EXCEPT:
        got |= _POLLERR
    return got


def revents(got, events, what):
    """WSAPoll's revents from poll_ready's bits, the entry's events and the peek (PEEK_DATA when not peeked)."""
    if got & _POLLRDNORM:
        if what == PEEK_CLOSED:
            got = (got & ~_POLLRDNORM) | _POLLHUP
        elif what > PEEK_DATA:  # an error code: the connection broke
            got = (got & ~_POLLRDNORM) | _POLLERR | _POLLHUP
        got &= events | _POLLHUP | _POLLERR
    return got
