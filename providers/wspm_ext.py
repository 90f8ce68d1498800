# providers/wspm_ext: the rarely used part of wspm, imported on its first use: listen/accept, names,
# select, duplication, options, ioctls, shutdown, address text, IPv6 text, multicast, MSG_WAITALL.
# MIT licence; part of ws2 for MicroPython.
#
# Shutdown: only CPython has a native one. On MicroPython SD_SEND and
# SD_RECEIVE are state (later calls fail WSAESHUTDOWN; the peer sees no FIN,
# lwIP cannot send one without closing); once both directions are shut the
# native socket is closed, so the peer sees the FIN then.
# Options the port lacks (SO_KEEPALIVE, SO_LINGER, the multicast ones on lwIP)
# are kept here and reported back; lwIP is never handed an option it would
# answer with "Warning: ... not implemented".
import socket as _so
import sys

# IPv6 text without a zone: the parser inet_pton and name resolution use.
from ws2.inaddr import pton6 as ip6
from ws2.errors import (WSAError, WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAEALREADY,
                        WSAECONNREFUSED, WSAECONNRESET, WSAEFAULT, WSAEINVAL, WSAEISCONN, WSAENOPROTOOPT,
                        WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP, WSAETIMEDOUT, WSAEWOULDBLOCK, WSATRY_AGAIN,
                        WSAEINTR, wsa_code)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_w = sys.modules.get(__name__[:-4])  # the core, providers.wspm: wspm._ext() (re)binds it on import

_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_IP = const(0)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_IPPROTO_IPV6 = const(41)
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_CF_ACCEPT = const(0)
_CF_REJECT = const(1)
_CF_DEFER = const(2)
_SD_BOTH = const(2)
_SOL_SOCKET = const(0xFFFF)
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_SIOCATMARK = const(0x40047307)
_SIO_PUMP_SELECT = const(0x58000002)  # ws2's own: the pump's select entry (pump_select below)
_SIO_SELECT_INTO = const(0x58000003)  # ws2's own: select's entry (select_into below)

# _Sock.state bits (as in wspm)
_V6 = const(0x1)
_DGRAM = const(0x2)
_BOUND = const(0x4)
_LISTENING = const(0x8)
_CONNECTED = const(0x10)
_CONNECTING = const(0x20)
_SHUT_RD = const(0x40)
_SHUT_WR = const(0x80)
_NONBLOCK = const(0x100)
_CLOSED = const(0x200)
_DEAD = const(0x400)
_O_REUSE = const(0x800)
_O_KEEPALIVE = const(0x1000)
_O_BROADCAST = const(0x2000)
_O_NODELAY = const(0x4000)
_O_NOMLOOP = const(0x8000)  # IP_MULTICAST_LOOP off (Winsock's default is on)
_INHERIT = const(0xF901)  # what an accepted socket takes from its listener: V6, NONBLOCK, option bits
_SLICED = const(-2)  # wspm's mode for a wait-forever cut in slices (see wspm._slice_over)
_MAX_BACKLOG = const(16)

# option ids (internal), from (level, name) by _opt(); 1..10 may have a native equivalent
_K_REUSE = const(1)
_K_KEEPALIVE = const(2)
_K_BROADCAST = const(3)
_K_LINGER = const(4)
_K_NODELAY = const(5)
_K_MIF = const(6)
_K_MTTL = const(7)
_K_MLOOP = const(8)
_K_ADD = const(9)  # 9 and 10 cannot be read
_K_DROP = const(10)
_K_DONTLINGER = const(11)
_K_RCVTIMEO = const(12)
_K_SNDTIMEO = const(13)
_K_RCVBUF = const(14)
_K_SNDBUF = const(15)
_K_ERROR = const(16)  # 16 and up cannot be set
_K_TYPE = const(17)
_K_PINFO = const(18)
_K_ACCEPTCONN = const(19)
_K_MAXMSG = const(20)
# Option ids 1..10: the port's constant name, and the number to use when the
# unix port does not export the name (it passes any number to the kernel).
_NAT_NAME = ("SO_REUSEADDR", "SO_KEEPALIVE", "SO_BROADCAST", "SO_LINGER", "TCP_NODELAY", "IP_MULTICAST_IF",
             "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP", "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP")
_NAT_LINUX = b"\x02\x09\x06\x0d\x01\x20\x21\x22\x23\x24"
_NAT_BSD = b"\x04\x08\x20\x80\x01\x09\x0a\x0b\x0c\x0d"
_DARWIN = sys.platform == "darwin"

_EPH_LOW = const(49152)
_EPH_TRIES = const(32)
_PEEK_CAP = const(1500)  # FIONREAD on MicroPython peeks at most this much
_DEFAULT_BUF = const(8192)  # SO_RCVBUF/SO_SNDBUF report (CE's default); kept, not applied
_eph = 0  # the last ephemeral port picked for a bind to port 0


# -- address text <-> bytes (pure) ---------------------------------------------------------
# IPv6 text (no zone) is ws2.inaddr's parser (imported above); what is wspm's own is Windows'
# loose IPv4 forms (WSAStringToAddress), ports and zones in the text.


def _digits(t, base):
    # Value of the digits of t in base, or -1.
    if not t:
        return -1
    v = 0
    for ch in t:
        d = ord(ch)
        if 48 <= d <= 57:
            d -= 48
        elif 97 <= d <= 102:
            d -= 87
        elif 65 <= d <= 70:
            d -= 55
        else:
            return -1
        if d >= base:
            return -1
        v = v * base + d
    return v


def _ip4_loose(s):
    """4 bytes of IPv4 text as Windows' non-strict parser takes it (a, a.b, a.b.c, a.b.c.d; 0x hex, 0 octal), or None."""
    p = s.split(".")
    if len(p) > 4:
        return None
    vals = []
    for t in p:
        if len(t) > 2 and t[0] == "0" and t[1] in "xX":
            v = _digits(t[2:], 16)
        elif len(t) > 1 and t[0] == "0":
            v = _digits(t[1:], 8)
        else:
            v = _digits(t, 10)
        if v < 0:
            return None
        vals.append(v)
    last = vals.pop()
    n = 0
    for i in range(len(vals)):
        if vals[i] > 255:
            return None
        n |= vals[i] << (24 - 8 * i)
    if last >= 1 << (8 * (4 - len(vals))):
        return None
    return (n | last).to_bytes(4, "big")


def fmt6(b):
    """Text of 16 bytes of IPv6 address as glibc writes it (RFC 5952; ::ffff:a.b.c.d for mapped ones)."""
    from ws2.addrconv import ntop6  # loaded on the first IPv6 address shown, not with wspm_ext

    return ntop6(b)


def _port(t):
    v = _digits(t, 10) if len(t) <= 5 else -1
    return v if 0 <= v <= 65535 else None


def parse6(addr):
    """Check an IPv6 address tuple (zone '%n' allowed); return (16 bytes, host, port, flowinfo, scope_id)."""
    h, port = addr[0], addr[1]
    flow = scope = 0
    if len(addr) == 4:
        flow, scope = addr[2], addr[3]
        if type(flow) is not int or type(scope) is not int:
            raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    k = h.find("%")
    if k >= 0:
        scope = _digits(h[k + 1 :], 10)
        h = h[:k]
    if not 0 <= port <= 65535 or not 0 <= flow <= 0xFFFFF or not 0 <= scope <= 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "bad port, flowinfo or scope in %r" % (addr,))
    b = ip6(h) if h else bytes(16)
    if b is None:
        raise WSAError(WSAEAFNOSUPPORT if _w._ip4(h) else WSAEFAULT, "%r: not an IPv6 address" % (h,))
    return b, h, port, flow, scope


def _text4(text):
    i = text.find(":")
    port = 0
    if i >= 0:
        port = _port(text[i + 1 :])
        text = text[:i]
        if port is None:
            return None
    b = _ip4_loose(text)
    return None if b is None else (_w._fmt4(b), port)


def _text6(text):
    port = 0
    if text[:1] == "[":
        j = text.find("]")
        if j < 0:
            return None
        rest = text[j + 1 :]
        text = text[1:j]
        if rest:
            port = _port(rest[1:]) if rest[0] == ":" else None
            if port is None:
                return None
    scope = 0
    k = text.find("%")
    if k >= 0:
        scope = _digits(text[k + 1 :], 10)
        text = text[:k]
        if not 0 <= scope <= 0xFFFFFFFF:
            return None
    b = ip6(text)
    return None if b is None else (fmt6(b), port, 0, scope)


def WSPStringToAddress(text, af, info):
    """Parse '1.2.3.4[:port]' or '[v6[%scope]][:port]' text of family af (0: either) into an address tuple."""
    if type(text) is not str:
        raise WSAError(WSAEFAULT, "address text must be a str")
    if af not in (0, _AF_INET, _AF_INET6):
        raise WSAError(WSAEINVAL, "family %r" % (af,))
    r = _text4(text) if af != _AF_INET6 else None
    if r is None and af != _AF_INET:
        r = _text6(text)
    if r is None:
        raise WSAError(WSAEINVAL, "%r" % (text,))
    return r


def WSPAddressToString(addr, info):
    """Format an address tuple as 'a.b.c.d[:port]', 'v6[%scope]' or '[v6[%scope]]:port'."""
    if type(addr) is not tuple or len(addr) not in (2, 4) or type(addr[0]) is not str or type(addr[1]) is not int:
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    v6 = len(addr) == 4 or ":" in addr[0]
    fam = getattr(info, "address_family", 0)
    if fam in (_AF_INET, _AF_INET6) and (fam == _AF_INET6) != v6 or not addr[0]:
        raise WSAError(WSAEINVAL, "%r" % (addr,))
    if not v6:
        if _w._ip4(addr[0]) is None or not 0 <= addr[1] <= 65535:
            raise WSAError(WSAEINVAL, "%r" % (addr,))
        return "%s:%d" % addr if addr[1] else addr[0]
    if len(addr) == 4 and (type(addr[2]) is not int or type(addr[3]) is not int):
        raise WSAError(WSAEFAULT, "bad address %r" % (addr,))
    try:
        b, h, port, flow, scope = parse6(addr)
    except WSAError:
        raise WSAError(WSAEINVAL, "%r" % (addr,))  # a bad value, not a bad structure
    s = fmt6(b)
    if scope:
        s = "%s%%%d" % (s, scope)
    return "[%s]:%d" % (s, port) if port else s


# -- servers, names, select, duplication (slots the core hands over) ---------------------------

def _sockname(c):
    # The local address: the kernel's answer on CPython, what bind recorded elsewhere.
    if not _w._MICROPYTHON and not c.state & _DEAD:
        try:
            return _w._from_native(c, c.sk.getsockname())
        except OSError:
            pass
    if c.local is not None:
        return c.local
    return _w._ANY6 if c.state & _V6 else _w._ANY4


def WSPDuplicateSocket(c, thread_id):
    """A WSAProtocolInfo from which WSPSocket opens another handle on this socket (shared sockets)."""
    p = _protocol_info(c)
    key = id(c) & 0x3FFFFFFF or 1
    _w._dups[key] = c
    p.provider_reserved = key
    return p


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
    ms = -1 if timeout_ms is None else timeout_ms
    if 0 <= ms <= 500:
        res = poller.poll(ms)
    else:
        # A long wait is sliced so WSACancelBlockingCall can end it.
        cb, ctx = _w._upcalls.WPUQueryBlockingCallback(0)
        while True:
            step = 500 if ms < 0 else min(ms, 500)
            res = poller.poll(step)
            if res or 0 <= ms <= step:
                break
            if ms > 0:
                ms -= step
            if not cb(ctx):
                raise WSAError(WSAEINTR, "select cancelled")
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
_POLLABLE = const(0x3A)  # _DGRAM | _LISTENING | _CONNECTED | _CONNECTING


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
    m = -1 if ms is None else ms
    if 0 <= m <= 500:
        hits = _poll_once(P, m)
    else:
        # A long wait is sliced so WSACancelBlockingCall can end it (the pump itself waits 50 ms at most).
        cb, bctx = _w._upcalls.WPUQueryBlockingCallback(0)
        while True:
            step = 500 if m < 0 else min(m, 500)
            hits = _poll_once(P, step)
            if hits or 0 <= m <= step:
                break
            if m > 0:
                m -= step
            if not cb(bctx):
                raise WSAError(WSAEINTR, "select cancelled")
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


def WSPListen(c, backlog):
    """Listen on a bound stream socket (again: a no-op, the backlog stays)."""
    if type(backlog) is not int or backlog < 0:
        raise WSAError(WSAEINVAL, "bad backlog")
    st = c.state
    if st & _DGRAM:
        raise WSAError(WSAEOPNOTSUPP, "not a stream")
    if st & (_CONNECTED | _CONNECTING):
        raise WSAError(WSAEISCONN)
    if not st & _BOUND:
        raise WSAError(WSAEINVAL, "not bound")
    if not st & _LISTENING:
        try:
            c.sk.listen(min(max(backlog, 1), _MAX_BACKLOG))
        except OSError as e:
            raise _w._fail(e, 0)
        c.state |= _LISTENING
    return 0


def WSPAccept(c, condition, callback_data):
    """Accept a connection, asking condition(caller, data, qos, callee, callback_data) first; returns (handle, peer)."""
    st = c.state
    if not st & _LISTENING:
        raise WSAError(WSAEINVAL, "not listening")
    d = c.extra and c.extra.pop("defer", None)  # a connection CF_DEFER left waiting
    if d:
        nsk, peer = d
    else:
        m = -1 if st & _NONBLOCK else _SLICED  # Winsock: SO_RCVTIMEO does not bound accept
        if c.mode != m:
            _w._set_mode(c, m)
        while True:
            try:
                nsk, na = c.sk.accept()
                break
            except OSError as e:
                if m != _SLICED or not _w._slice_over(c, e):
                    raise _w._fail(e, m)
        peer = _w._from_native(c, na)
    if condition is not None:
        _ask(c, nsk, peer, condition, callback_data)
    n = _w._Sock(nsk, (st & _INHERIT) | _BOUND | _CONNECTED, c.catalog_id)
    if c.rcvtimeo:
        n.rcvtimeo = c.rcvtimeo
    if c.sndtimeo:
        n.sndtimeo = c.sndtimeo
    if c.extra is not None:
        inherit(c, n)
    n.local = c.local
    n.peer = peer
    try:
        _w._set_mode(n, -1 if st & _NONBLOCK else 0)  # rp2 passes the listener's timeout on; say what we want
        n.handle = _w._upcalls.WPUCreateSocketHandle(c.catalog_id, n)
    except BaseException:
        nsk.close()
        raise
    return n.handle, peer


def WSPGetSockName(c):
    """Local address; WSAEINVAL before bind (on MicroPython: as bound, wildcard port 0 after an implicit bind)."""
    if not c.state & (_BOUND | _CONNECTED | _CONNECTING):
        raise WSAError(WSAEINVAL, "not bound")
    return _sockname(c)


def WSPGetPeerName(c):
    """Peer address of a connected socket; WSAENOTCONN otherwise."""
    if not _w._probe(c) or c.peer is None:
        raise WSAError(WSAENOTCONN)
    return c.peer


# -- what the core calls on its rare paths ----------------------------------------------------------

def probe(c):
    """Learn how a non-blocking connect ended by connecting again (no port has SO_ERROR natively)."""
    m = -1 if c.state & _NONBLOCK else c.sndtimeo
    if c.mode != m:
        _w._set_mode(c, m)
    err = 0
    try:
        c.sk.connect(_w._native(c, c.peer)[2])
    except OSError as e:
        err = wsa_code(e)
        if err == WSAEALREADY or err == WSAEWOULDBLOCK:
            return False  # still under way
        if err == WSAEISCONN:
            err = 0
        elif err == WSAECONNRESET or err == WSAENOTSOCK:
            err = WSAECONNREFUSED  # lwIP reports a refused handshake as a reset (or a dropped pcb)
    c.state &= ~_CONNECTING
    if err:
        c.error = err
        return False
    c.state |= _CONNECTED | _BOUND
    return True


def bind_ephemeral(c, host):
    """Bind to a free port picked here: MicroPython cannot tell which one the stack would pick."""
    global _eph
    import random

    if not _eph:
        _eph = _EPH_LOW + random.getrandbits(14)
    for _ in range(_EPH_TRIES):
        _eph = _eph + 1 if _eph < 65535 else _EPH_LOW
        a = (host, _eph, 0, 0) if c.state & _V6 else (host, _eph)
        try:
            c.sk.bind(_w._native(c, a)[2])
            return a
        except OSError as e:
            if wsa_code(e) != WSAEADDRINUSE:
                raise _w._fail(e, 0)
            # Busy ports come in runs (a host's connections in TIME_WAIT): try elsewhere, not next door.
            _eph = _EPH_LOW + random.getrandbits(14)
    raise WSAError(WSAEADDRINUSE, "no free port")


def _extra(c):
    x = c.extra
    if x is None:
        x = c.extra = {}
    return x


def _ask(c, nsk, peer, cond, data):
    """Ask a conditional-accept function about a connection; return when accepted, else raise and dispose of it."""
    try:
        verdict = cond(peer, None, None, _sockname(c), data)
    except BaseException:
        nsk.close()
        raise
    if verdict == _CF_ACCEPT:
        return
    if verdict == _CF_DEFER:
        # Windows leaves the request queued; here it waits beside the listener.
        _extra(c)["defer"] = (nsk, peer)
        raise WSAError(WSATRY_AGAIN, "deferred")
    # CF_REJECT: reset the connection where the port can (SO_LINGER {1, 0}),
    # so the peer sees it refused rather than served; lwIP can only close it.
    nat = _nat_opt(_K_LINGER)
    if nat is not None:
        try:
            nsk.setsockopt(nat[0], nat[1], _linger_struct(1, 0))
        except OSError:
            pass
    nsk.close()
    if verdict == _CF_REJECT:
        raise WSAError(WSAECONNREFUSED, "rejected")
    raise WSAError(WSAEINVAL, "bad verdict %r" % (verdict,))


def inherit(c, n):
    """Copy a listener's kept options to an accepted socket."""
    for k in ("linger", "rcvbuf", "sndbuf"):
        if k in c.extra:
            _extra(n)[k] = c.extra[k]


def close_extra(c):
    """Dispose of what lives beside a native socket: a deferred connection, lwIP group memberships."""
    x = c.extra
    d = x.pop("defer", None)
    if d is not None:
        d[0].close()
    if not _w._KERNEL and x.get("groups"):
        # lwIP's memberships belong to the interface, not the socket: leave them.
        nat = _nat_opt(_K_DROP)
        for key in x["groups"]:
            if nat is not None and not c.state & _DEAD:
                try:
                    _set_mreq(c.sk, nat, key)
                except Exception:
                    pass
    x["groups"] = None


def recv_waitall(c, buffers, flags, nf, m):
    """MSG_WAITALL: receive until the buffers are full, the peer closes, or the timeout ends."""
    if m == -1 or flags & (_MSG_PEEK | _MSG_OOB):
        raise WSAError(WSAEOPNOTSUPP, "MSG_WAITALL")
    if c.mode != m:
        _w._set_mode(c, m)
    if type(buffers) is int:
        if buffers < 0:
            raise WSAError(WSAEINVAL, "negative size")
        buf = bytearray(min(buffers, 0x7FFFFFFF))  # the caller asked for all n bytes: no recv cap here
        return bytes(memoryview(buf)[: recv_waitall(c, buf, flags, nf, m)])
    mvs, n = _w._wbufs(buffers)
    got = 0
    for mv in mvs:
        k = 0
        while k < len(mv):
            try:
                r = _w._recv_stream(c, mv[k:], nf, m)
            except WSAError as e:
                if m == -2 and _w._slice_over(c, e):  # a sliced forever-wait: keep waiting
                    continue
                if got + k and e.args[0] in (WSAETIMEDOUT, WSAEWOULDBLOCK):
                    return got + k
                raise
            if not r:
                return got + k
            k += r
        got += k
    return got


# -- shutdown, disconnect, multipoint ------------------------------------------------------------

def WSPShutdown(c, how):
    """SD_RECEIVE, SD_SEND or SD_BOTH: real on CPython; on MicroPython state, and the FIN once both are shut."""
    if type(how) is not int or not 0 <= how <= _SD_BOTH:
        raise WSAError(WSAEINVAL, "bad how")
    st = c.state
    if not st & _DGRAM:
        if not _w._probe(c):
            raise WSAError(WSAENOTCONN)
        st = c.state
    native = hasattr(c.sk, "shutdown")
    if native and not st & (_DGRAM | _DEAD):
        try:
            c.sk.shutdown(how)  # SHUT_RD, SHUT_WR, SHUT_RDWR share Winsock's numbers
        except OSError as e:
            if wsa_code(e) != WSAENOTCONN:  # the peer already went: nothing left to shut
                raise _w._fail(e, 0)
    st |= (_SHUT_RD, _SHUT_WR, _SHUT_RD | _SHUT_WR)[how]
    if not native and st & _SHUT_RD and st & _SHUT_WR and not st & _DEAD:
        _w._close_native(c)
        st |= _DEAD
    c.state = st
    return 0


def WSPSendDisconnect(c, data):
    """Shutdown SD_SEND; disconnect data is not supported (WSAENOPROTOOPT)."""
    if data:
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    return WSPShutdown(c, 1)


def WSPRecvDisconnect(c, buf):
    """Shutdown SD_RECEIVE; returns the length of the disconnect data (always 0)."""
    if buf is not None and len(buf):
        raise WSAError(WSAENOPROTOOPT, "disconnect data")
    WSPShutdown(c, 0)
    return 0


def WSPJoinLeaf(c, addr, caller_data, callee_data, sqos, gqos, flags):
    """No multipoint in wspm (as on CE): WSAEOPNOTSUPP."""
    raise WSAError(WSAEOPNOTSUPP, "multipoint")


# -- options ------------------------------------------------------------------------------------

def _nat_opt(k):
    """The port's native (level, name) for option id k, or None when the port lacks it (then it is kept here)."""
    if not _K_REUSE <= k <= _K_DROP:
        return None
    v = getattr(_so, _NAT_NAME[k - 1], None)
    if v is None:
        if not _w._KERNEL:
            return None
        v = (_NAT_BSD if _DARWIN else _NAT_LINUX)[k - 1]
    if k <= _K_LINGER:
        return getattr(_so, "SOL_SOCKET", 0xFFFF if _DARWIN else 1), v
    if k == _K_NODELAY:
        return getattr(_so, "IPPROTO_TCP", 6), v
    return getattr(_so, "IPPROTO_IP", 0), v


def _set_native(c, k, value):
    nat = _nat_opt(k)
    if nat is not None and not c.state & _DEAD:
        try:
            c.sk.setsockopt(nat[0], nat[1], value)
        except OSError as e:
            raise _w._fail(e, 0)


def _set_mreq(sk, nat, key):
    # rp2 wants the buffer to be two lwIP ip_addr_t long (8, 40 or 48 bytes
    # with IPv6 built in) but reads only the first 8: try the lengths in turn.
    for pad in (0, 32, 40):
        try:
            sk.setsockopt(nat[0], nat[1], key + bytes(pad) if pad else key)
            return
        except ValueError:
            if _w._KERNEL:
                raise
    raise WSAError(WSAEINVAL, "membership refused")


def _linger_struct(onoff, secs):
    # struct linger {int l_onoff; int l_linger;} of the host C library
    return onoff.to_bytes(4, sys.byteorder) + secs.to_bytes(4, sys.byteorder)


def _opt(c, level, name):
    """The internal id of option (level, name) on c; WSAEINVAL for an unknown level, WSAENOPROTOOPT for an option."""
    if type(level) is not int or type(name) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    dgram = c.state & _DGRAM
    k = 0
    if level == _SOL_SOCKET:
        if name == 0x0004:
            k = _K_REUSE
        elif name == 0x0008:
            k = 0 if dgram else _K_KEEPALIVE
        elif name == 0x0020:
            k = _K_BROADCAST if dgram else 0
        elif name == 0x0080:
            k = 0 if dgram else _K_LINGER
        elif name == -129 or name == 0xFFFFFF7F:  # SO_DONTLINGER = ~SO_LINGER
            k = 0 if dgram else _K_DONTLINGER
        elif 0x1001 <= name <= 0x1008:
            k = (_K_SNDBUF, _K_RCVBUF, 0, 0, _K_SNDTIMEO, _K_RCVTIMEO, _K_ERROR, _K_TYPE)[name - 0x1001]
        elif name == 0x0002:
            k = _K_ACCEPTCONN
        elif name == 0x2003:
            k = _K_MAXMSG if dgram else 0
        elif name == 0x2004 or name == 0x2005:  # SO_PROTOCOL_INFOA / W: one Python type for both
            k = _K_PINFO
    elif level == _IPPROTO_TCP:
        if name == 0x0001 and not dgram:
            k = _K_NODELAY
    elif level == _IPPROTO_IP:
        if 9 <= name <= 13 and dgram and not c.state & _V6:
            k = (_K_MIF, _K_MTTL, _K_MLOOP, _K_ADD, _K_DROP)[name - 9]
    elif level != _IPPROTO_UDP and level != _IPPROTO_IPV6:
        raise WSAError(WSAEINVAL, "level %d" % level)
    if not k:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d" % (level, name))
    return k


def _bit_opt(k):
    if k == _K_REUSE:
        return _O_REUSE
    if k == _K_KEEPALIVE:
        return _O_KEEPALIVE
    if k == _K_BROADCAST:
        return _O_BROADCAST
    if k == _K_NODELAY:
        return _O_NODELAY
    return 0


def _dword(v, what):
    """An int option/ioctl value: int, bool, or 4+ little-endian bytes; WSAEFAULT otherwise."""
    if type(v) is int or type(v) is bool:
        return int(v)
    if isinstance(v, (bytes, bytearray, memoryview)) and len(v) >= 4:
        return int.from_bytes(bytes(v[:4]), "little")
    raise WSAError(WSAEFAULT, "%s: not an int" % what)


def _protocol_info(c):
    # The catalog entry the socket was made for, with the socket's own triple.
    from ws2 import catalog
    from ws2.protocol_info import WSAProtocolInfo, from_tuple

    e = catalog.by_id(c.catalog_id)
    p = from_tuple(e) if e is not None else WSAProtocolInfo(catalog_entry_id=c.catalog_id)
    p.address_family = _AF_INET6 if c.state & _V6 else _AF_INET
    p.socket_type = _SOCK_DGRAM if c.state & _DGRAM else _SOCK_STREAM
    p.protocol = _IPPROTO_UDP if c.state & _DGRAM else _IPPROTO_TCP
    return p


def _so_error(c):
    # SO_ERROR: read and clear; a pending non-blocking connect is asked how it went.
    _w._probe(c)
    e = c.error
    if not e and not _w._MICROPYTHON and not c.state & _DEAD:
        n = c.sk.getsockopt(_so.SOL_SOCKET, _so.SO_ERROR)
        if n:
            e = wsa_code(OSError(n))
    c.error = 0
    return e


def WSPGetSockOpt(c, level, name):
    """Read a socket option (Winsock numbering; BOOLs as 0/1, SO_LINGER as (onoff, seconds))."""
    k = _opt(c, level, name)
    st = c.state
    b = _bit_opt(k)
    if b:
        return 1 if st & b else 0
    x = c.extra or {}
    if k == _K_LINGER:
        return x.get("linger", (0, 0))
    if k == _K_DONTLINGER:
        return 0 if x.get("linger", (0, 0))[0] else 1
    if k == _K_RCVTIMEO:
        return c.rcvtimeo
    if k == _K_SNDTIMEO:
        return c.sndtimeo
    if k == _K_ERROR:
        return _so_error(c)
    if k == _K_TYPE:
        return _SOCK_DGRAM if st & _DGRAM else _SOCK_STREAM
    if k == _K_PINFO:
        return _protocol_info(c)
    if k == _K_ACCEPTCONN:
        return 1 if st & _LISTENING else 0
    if k == _K_RCVBUF:
        return x.get("rcvbuf", _DEFAULT_BUF)
    if k == _K_SNDBUF:
        return x.get("sndbuf", _DEFAULT_BUF)
    if k == _K_MAXMSG:
        return _w._max_dgram(c)
    if k == _K_MIF:
        return x.get("mif", "0.0.0.0")
    if k == _K_MTTL:
        return x.get("ttl", 1)
    if k == _K_MLOOP:
        return 0 if st & _O_NOMLOOP else 1
    raise WSAError(WSAENOPROTOOPT, "option %d/%d is write-only" % (level, name))


def _mreq(value):
    # ip_mreq as 8 bytes (group, interface): from (group, iface) text or the raw 8 bytes.
    if type(value) is tuple and len(value) == 2 and type(value[0]) is str and type(value[1]) is str:
        g = _w._ip4(value[0])
        i = _w._ip4(value[1]) if value[1] else bytes(4)
        if g is None or i is None:
            raise WSAError(WSAEINVAL, "bad ip_mreq")
        return g + i
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) >= 8:
        return bytes(value[:8])
    raise WSAError(WSAEFAULT, "bad ip_mreq")


def _membership(c, k, value):
    key = _mreq(value)
    if not 224 <= key[0] <= 239:
        raise WSAError(WSAEINVAL, "not a group")
    x = _extra(c)
    groups = x.get("groups") or []
    if k == _K_ADD:
        if key in groups:
            raise WSAError(WSAEADDRINUSE, "already a member")
    elif key not in groups:
        raise WSAError(WSAEADDRNOTAVAIL, "not a member")
    nat = _nat_opt(k)
    if nat is not None and not c.state & _DEAD:
        try:
            _set_mreq(c.sk, nat, key)
        except OSError as e:
            raise _w._fail(e, 0)
    if k == _K_ADD:
        groups.append(key)
    else:
        groups.remove(key)
    x["groups"] = groups
    return 0


def WSPSetSockOpt(c, level, name, value):
    """Set a socket option; what the port cannot apply is kept and reported back by WSPGetSockOpt."""
    k = _opt(c, level, name)
    if k >= _K_ERROR:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d is read-only" % (level, name))
    if k == _K_ADD or k == _K_DROP:
        return _membership(c, k, value)
    if k == _K_LINGER or k == _K_DONTLINGER:
        old = (c.extra or {}).get("linger", (0, 0))
        if k == _K_DONTLINGER:
            v = (0 if _dword(value, "SO_DONTLINGER") else 1, old[1])
        elif type(value) in (tuple, list) and len(value) == 2:
            v = (value[0], value[1])
            if type(v[0]) is not int or type(v[1]) is not int:
                raise WSAError(WSAEFAULT, "bad SO_LINGER")
        else:
            d = _dword(value, "SO_LINGER")  # struct linger: two little-endian u_shorts
            v = (d & 0xFFFF, d >> 16)
        if not 0 <= v[1] <= 0xFFFF or v[0] < 0:
            raise WSAError(WSAEINVAL, "bad SO_LINGER")
        v = (1 if v[0] else 0, v[1])
        _set_native(c, _K_LINGER, _linger_struct(v[0], v[1]))
        _extra(c)["linger"] = v
        return 0
    if k == _K_MIF:
        if type(value) is str:
            b = _w._ip4(value) if value else bytes(4)
        elif isinstance(value, (bytes, bytearray)) and len(value) == 4:
            b = bytes(value)
        else:
            raise WSAError(WSAEFAULT, "bad interface")
        if b is None:
            raise WSAError(WSAEINVAL, "bad interface")
        _set_native(c, k, b)
        _extra(c)["mif"] = _w._fmt4(b)
        return 0
    v = _dword(value, "the option")
    b = _bit_opt(k)
    if b:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state | b) if v else (c.state & ~b)
        return 0
    if not 0 <= v <= 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "value %d" % v)
    if k == _K_RCVTIMEO:
        c.rcvtimeo = v
    elif k == _K_SNDTIMEO:
        c.sndtimeo = v
    elif k == _K_RCVBUF:
        _extra(c)["rcvbuf"] = v
    elif k == _K_SNDBUF:
        _extra(c)["sndbuf"] = v
    elif k == _K_MTTL:
        if v > 255:
            raise WSAError(WSAEINVAL, "TTL")
        _set_native(c, k, v)
        _extra(c)["ttl"] = v
    elif k == _K_MLOOP:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state & ~_O_NOMLOOP) if v else (c.state | _O_NOMLOOP)
    return 0


# -- ioctls -------------------------------------------------------------------------------------

def _peek(c, n, nf):
    # Up to n bytes a receive would return, without waiting or consuming them; None when nothing is there.
    if c.mode != -1:
        _w._set_mode(c, -1)
    try:
        if c.state & _DGRAM:
            return c.sk.recvfrom(n, nf)[0]
        return c.sk.recv(n, nf)
    except OSError:
        return None


def _fionread(c):
    st = c.state
    if st & (_DEAD | _LISTENING | _SHUT_RD) or not st & (_CONNECTED | _BOUND):
        return 0
    if not _w._MICROPYTHON:
        try:
            import fcntl
            import struct
            import termios

            return struct.unpack("i", fcntl.ioctl(c.sk.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        except (ImportError, OSError):
            pass
    try:
        data = _peek(c, _PEEK_CAP, _w._NATIVE_PEEK)
    except TypeError:  # recv without flags (older rp2 firmware): say whether anything is there
        import select

        p = select.poll()
        p.register(c.sk, select.POLLIN)
        return 1 if p.poll(0) else 0
    return len(data) if data else 0


def WSPIoctl(c, code, in_data, out_len):
    """FIONBIO (any form), FIONREAD, SIOCATMARK; WSAEINVAL for what is no ioctl, WSAEOPNOTSUPP for SIO_* codes."""
    if type(code) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    code &= 0xFFFFFFFF  # ioctlsocket's cmd is a C long: accept it signed
    if code == _FIONBIO:
        return _w.WSPIoctl(c, code, _dword(in_data, "FIONBIO"), out_len, None, None, None)
    if code == _FIONREAD:
        return _fionread(c)
    if code == _SIO_PUMP_SELECT:
        # ws2's own, for ws2.netevents: the pump's select entry, with the context it was asked on so that
        # the router can tell a layer's pass-through (another context) from this provider's answer.
        return pump_select, c
    if code == _SIO_SELECT_INTO:
        return select_into, c  # the same for ws2.select
    if code == _SIOCATMARK:
        # TRUE when no urgent data waits (SO_OOBINLINE is off); only kernels have urgent data.
        if not _w._NATIVE_OOB or c.state & (_DGRAM | _DEAD) or not c.state & _CONNECTED:
            return 1
        return 0 if _peek(c, 1, _w._NATIVE_OOB | _w._NATIVE_PEEK) else 1
    if (code >> 27) & 3:
        # A Winsock 2 SIO_* code (IOC_WS2, IOC_PROTOCOL, IOC_VENDOR) this provider cannot realise.
        raise WSAError(WSAEOPNOTSUPP, "ioctl 0x%x" % code)
    raise WSAError(WSAEINVAL, "ioctl 0x%x" % code)
