# providers/wspm/poller: WSPSelect, and the kept pollers of ws2's pump and select.
# MIT licence; part of ws2 for MicroPython.
import sys

from ws2.errors import WSAError, WSAEINTR
from ws2.port import const

_w = sys.modules.get(__name__[: __name__.rfind(".")])  # the core, providers.wspm: its _part() (re)binds it

# _Sock.state bits (copies of the core's)
_DGRAM = const(0x2)
_LISTENING = const(0x8)
_CONNECTED = const(0x10)
_CONNECTING = const(0x20)
_CLOSED = const(0x200)
_DEAD = const(0x400)
_POLLABLE = const(0x3A)


def _sliced(wait, arg, ms):
    # wait(arg, ms) for up to ms (-1: forever); a long wait is cut in 500 ms slices so that
    # WSACancelBlockingCall can end it. Returns what the last wait returned.
    if 0 <= ms <= 500:
        return wait(arg, ms)
    cb, ctx = _w._upcalls.WPUQueryBlockingCallback(0)
    while True:
        step = 500 if ms < 0 else min(ms, 500)
        r = wait(arg, step)
        if r or 0 <= ms <= step:
            return r
        if ms > 0:
            ms -= step
        if not cb(ctx):
            raise WSAError(WSAEINTR, "select cancelled")


def _poll_list(poller, ms):
    return poller.poll(ms)


def WSPSelect(readfds, writefds, exceptfds, timeout_ms):
    """Which of this provider's sockets are readable, writable or failed; timeout_ms None waits forever."""
    import select

    poller = select.poll()
    seen = {}
    now = ([], [], [])
    for k, fds, ev in ((0, readfds, 0x1), (1, writefds, 0x4), (2, exceptfds, 0)):
        for c in fds or ():
            st = c.state
            if st & (_DEAD | _CLOSED) or (k == 0 and st & _LISTENING and c.extra and "defer" in c.extra):
                now[k].append(c)  # answers at once: recv reports the state, or a deferred accept waits
                continue
            if not st & (_DGRAM | _LISTENING | _CONNECTED | _CONNECTING):
                continue  # a fresh stream socket is never ready (lwIP and Linux say HUP)
            key = id(c.sk)
            got = seen.get(key)
            if got is None:
                seen[key] = got = [c, 0]
            got[1] |= ev
    if now[0] or now[1] or now[2] or not seen:
        return now
    byfd = {}
    for key in seen:
        c, ev = seen[key]
        poller.register(c.sk, ev | 0x8 | 0x10)
        if not _w._MICROPYTHON:
            byfd[c.sk.fileno()] = key  # CPython's poll answers with fds
    res = _sliced(_poll_list, poller, -1 if timeout_ms is None else timeout_ms)
    for obj, ev in res:
        got = seen.get(byfd.get(obj) if byfd else id(obj))
        if got is None:
            continue
        c = got[0]
        if c.state & _CONNECTING:
            _w._probe(c)  # learn the outcome: SO_ERROR now tells it
            if c.error or not c.state & _CONNECTED:
                if c.error and c in (exceptfds or ()):
                    now[2].append(c)
                continue
        if ev & 0x19 and c in (readfds or ()):
            now[0].append(c)
        if ev & 0x4 and c in (writefds or ()):
            now[1].append(c)
        if ev & 0x8 and c in (exceptfds or ()) and c not in now[2]:
            now[2].append(c)
    return now


# -- persistent pollers: the pump's and select's -------------------------------------------------
# ws2.netevents' pump wakes every wait slice (50 ms) of every thread that waits
# in ws2 and asks which registered sockets are ready; ws2.select is often
# called in a loop over the same sockets. Through WSPSelect each call would
# build a poll object, a poll_obj per socket, dicts and result lists: ~3 KB of
# garbage per call with 8 sockets, a collection every few seconds on an idle
# board. pump_select and select_into are WSPSelect for those two callers:
# - one poll object each (_Poller), kept between calls; registrations are
#   changed (register/modify/unregister) only when the caller's generation
#   says its set or masks changed, or a socket became pollable or stopped being
#   so (connect, listen). A socket that leaves the set is parked (modify to 0,
#   no allocation when it comes back: MicroPython's register allocates a poll
#   entry, modify does not); a parked socket that reports anyway (hang-up,
#   error, closed: poll always reports those) is unregistered then, so it
#   cannot make the caller spin.
# - ipoll() on MicroPython: no result list, one callee-owned tuple reused.
#   CPython has no ipoll and uses poll().
# - the answer goes into the caller's bytearray (bit 1 read, 2 write, 4 except
#   per entry), not into new lists: nothing is allocated unless a socket is
#   ready and needs more than the poller (a connect's outcome).
# A poller has one user at a time: the pump serialises its callers (ws2.netevents'
# pump lock) and select its own (its select lock; a select on another thread
# meanwhile goes through WSPSelect), and each has its own poller, so no poller is
# changed by one thread while another sits in its poll() (a register can move the
# pollfd array under the kernel). WSPSelect (WSAPoll, layers, that other select)
# builds a poller per call, as it always has: cheaper for one call than a _Poller.
# Sockets closed (closesocket, or both directions shut on MicroPython) leave a
# poller at its next sync, which the router's close triggers for every socket
# the pump watches (netevents.forget / overlapped.abort) and select's next call
# with other handles does, or when poll reports them (a closed socket reports
# POLLNVAL); the closing thread never touches a poller another thread may be
# waiting on.


class _Poller:
    """A select.poll() for one caller at a time, and what is registered in it."""

    def __init__(self):
        self.poller = None  # made at the first sync
        self.ipoll = False
        # poll key (the native socket on MicroPython, its fd on CPython) ->
        # [ctx, mask in the poller (-1: not registered), mask wanted, sync parity, events seen]
        self.polled = {}
        self.hits = []  # the entries that reported in the last wait (first `hits` items; None after use)
        self.owner = None  # the caller's ctxs list at the last sync, its generation and count
        self.gen = -1
        self.n = -1
        self.parity = 0
        self.live = bytearray(0)  # per entry at the last sync: 1 when its socket could be polled
        self.count = 0  # how many could


_pump = _Poller()
_sel = _Poller()


def _key(c):
    return c.sk if _w._MICROPYTHON else c.sk.fileno()


def _gone(c):
    # The native socket is closed or never pollable: not for the poller.
    st = c.state
    return st & (_DEAD | _CLOSED) or not st & _POLLABLE


def _sync(P, ctxs, want, n, gen):
    # Make P's registrations match entries 0..n-1 (runs only when the caller's set changed).
    if P.poller is None:
        import select

        P.poller = select.poll()
        P.ipoll = hasattr(P.poller, "ipoll")
    if len(P.live) < n:
        P.live = bytearray(n)
    poller = P.poller
    polled = P.polled
    live = P.live
    par = P.parity = P.parity ^ 1
    count = 0
    for i in range(n):
        c = ctxs[i]
        if _gone(c):
            live[i] = 0
            continue
        live[i] = 1
        count += 1
        w = want[i]
        m = (0x1 if w & 1 else 0) | (0x4 if w & 2 else 0) | 0x18  # POLLIN, POLLOUT, POLLERR|POLLHUP
        key = _key(c)
        e = polled.get(key)
        if e is None:
            polled[key] = [c, -1, m, par, 0]
        elif e[3] != par:
            e[0] = c
            e[2] = m
            e[3] = par
        else:
            e[2] |= m  # a second handle on the same socket (WSADuplicateSocket)
    dead = None
    for key in polled:
        e = polled[key]
        if e[3] != par:
            e[2] = 0  # not wanted now: parked
            if _gone(e[0]):
                dead = key
                continue
        if e[2] != e[1]:
            if e[1] < 0:
                if e[2]:
                    poller.register(key, e[2])
                    e[1] = e[2]
            else:
                poller.modify(key, e[2])
                e[1] = e[2]
    while dead is not None:
        _drop(P, dead)
        dead = None
        for key in polled:
            if polled[key][3] != par and _gone(polled[key][0]):
                dead = key
                break
    P.owner = ctxs
    P.gen = gen
    P.n = n
    P.count = count


def _drop(P, key):
    e = P.polled.pop(key)
    if e[1] >= 0:
        try:
            P.poller.unregister(key)
        except (KeyError, OSError, ValueError):
            pass


def _unpark(P, key, e):
    # A socket nobody asked about reported (a parked one's hang-up or error, a closed one's POLLNVAL).
    try:
        P.poller.unregister(key)
    except (KeyError, OSError, ValueError):
        pass
    if e is not None:
        e[1] = -1


def _poll_once(P, ms):
    # Wait up to ms; note each reporting entry's events in it and in P.hits[0..count-1].
    hit = P.hits
    for k in range(len(hit)):  # what a call that raised half-way left behind
        if hit[k] is None:
            break
        hit[k][4] = 0
        hit[k] = None
    hits = 0
    polled = P.polled
    for key, ev in (P.poller.ipoll(ms) if P.ipoll else P.poller.poll(ms)):
        e = polled.get(key)
        if e is None or e[1] <= 0:
            _unpark(P, key, e)
            continue
        e[4] = ev
        if hits < len(hit):
            hit[hits] = e
        else:
            hit.append(e)  # grows to the most sockets ever ready at once, then is reused
        hits += 1
    return hits


def _wait(P, ctxs, want, n, gen, ms, ready, idle):
    # WSPSelect on poller P for entries 0..n-1 of ctxs with want bits (1 read, 2 write, 4 except); gen
    # changes when the set or the bits do. Writes the ready bits to ready[i], returns how many. With no
    # socket to poll (fresh stream sockets only) it waits out ms when idle (the pump), else answers at once.
    now = 0
    sync = ctxs is not P.owner or gen != P.gen or n != P.n
    live = P.live
    for i in range(n):
        c = ctxs[i]
        st = c.state
        w = want[i]
        if st & (_DEAD | _CLOSED):
            ready[i] = w  # answers at once: recv reports the state
            now += 1
        elif w & 1 and st & _LISTENING and c.extra and "defer" in c.extra:
            ready[i] = 1  # answers at once: a deferred accept waits
            now += 1
        else:
            ready[i] = 0
            if not sync and live[i] != (1 if st & _POLLABLE else 0):
                sync = True  # connected or listening since the last sync (or a connect failed)
    if now:
        return now
    if sync:
        _sync(P, ctxs, want, n, gen)
    if not P.count and not idle:
        return 0
    hits = _sliced(_poll_once, P, -1 if ms is None else ms)  # (the pump itself waits 50 ms at most)
    if not hits:
        return 0
    count = 0
    polled = P.polled
    for i in range(n):
        c = ctxs[i]
        if _gone(c):
            continue
        e = polled.get(_key(c))
        if e is None or not e[4]:
            continue
        ev = e[4]
        w = want[i]
        b = 0
        if c.state & _CONNECTING:
            _w._probe(c)  # learn the outcome: SO_ERROR now tells it
            if c.error or not c.state & _CONNECTED:
                if c.error and w & 4:
                    ready[i] = 4
                    count += 1
                continue
        if ev & 0x19 and w & 1:
            b = 1
        if ev & 0x4 and w & 2:
            b |= 2
        if ev & 0x8 and w & 4:
            b |= 4
        ready[i] = b
        if b:
            count += 1
    hit = P.hits
    for k in range(hits):
        hit[k][4] = 0
        hit[k] = None
    return count


def pump_select(ctxs, want, n, gen, ms, ready):
    """ws2.netevents' pump select (SIO_PUMP_SELECT): entries 0..n-1 of ctxs with want bits 1 read, 2 write,
    4 except; gen changes when the set or the bits do. Writes the ready bits to ready[i]; returns how many."""
    return _wait(_pump, ctxs, want, n, gen, ms, ready, True)


def select_into(ctxs, want, n, gen, ms, ready):
    """ws2.select's entry (SIO_SELECT_INTO): as pump_select, on a poller of its own; answers WSPSelect's answer."""
    return _wait(_sel, ctxs, want, n, gen, ms, ready, False)
