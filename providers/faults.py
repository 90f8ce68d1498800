# providers/faults: a layered provider that makes the network misbehave on purpose, seeded and reproducible.
# MIT licence; part of ws2 for MicroPython. Installed as chains; see docs/layers.md.
#
# Each socket on a faults chain follows a plan (providers/faultplan.py says
# what a plan holds and decides each fault): the chain's, from
# ws2.config(faults={entry id or "*": plan}), or its own, set with
# WSAIoctl(s, SIO_FAULTS_SET, plan). Sockets of one chain share the chain's
# plan, so "the 3rd recv fails" counts across reconnects. Without a plan a
# call costs one lookup and goes straight down.
#
# Datagrams can be dropped, duplicated, reordered (held until the next one
# has passed, or delay_ms), delayed, corrupted (one bit) and truncated, in
# either direction. Streams get short sends and short reads, a peer that
# closes (recv sees the end of the stream, send WSAECONNRESET), and calls that
# fail with a chosen WSA error; a connection-ending error (WSAECONNRESET,
# WSAECONNABORTED, WSAENETDOWN) stays, so select reports the socket readable
# and the router's FD_CLOSE carries the error. A stalled connect waits, then
# fails with WSAETIMEDOUT. Every injected fault is counted (SIO_FAULTS_GET).
from providers import faultplan, layer
from ws2.errors import WSAError, WSAECONNRESET, WSAETIMEDOUT, WSAEWOULDBLOCK
from ws2.port import const, sleep_ms, ticks_add, ticks_diff, ticks_ms

_WSP_ACCEPT = const(0)
_WSP_CLEANUP = const(5)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
_WSP_SHUTDOWN = const(27)
_WSP_SOCKET = const(28)
_SOCK_STREAM = const(1)
_MSG_PEEK = const(0x2)
_MSG_DONTWAIT = const(0x40)
_SOL_SOCKET = const(0xFFFF)
_SO_ERROR = const(0x1007)
_FIONBIO = const(0x8004667E)
_SD_BOTH = const(2)
_SIO_FAULTS_SET = const(0x98000020)
_SIO_FAULTS_GET = const(0x58000021)
_SIO_FAULTS_PEER_CLOSE = const(0x98000022)
_SLICE_MS = const(20)
_NAME = "faults"

_seen = None  # the ws2.config faults setting the plans below were made from
_plans = {}  # key ("entry id" or "*") -> the chain's shared Plan
_starts = layer.Starts("ws2 fault injection layer")


class _F(layer.Sock):
    """A faults socket: the lower socket, its plan, datagrams held back, the peer's injected end."""

    def __init__(self, table, lower_handle, entry_id):
        layer.Sock.__init__(self, table, lower_handle, entry_id)
        self.stream = True
        self.keys = ()  # the config keys this socket's chain plan is looked up by
        self.own = None  # a plan set on this socket with SIO_FAULTS_SET ({} = none)
        self.nb = False  # FIONBIO
        self.eof = False  # the "peer" closed
        self.err = 0  # a connection-ending error injected: every later call fails with it
        self.rx = 0  # stream bytes received (close_after)
        self.held = []  # [due ticks, data, addr, released by the next datagram]
        self.out = None  # (data, addr) of a sent datagram held back for reorder
        self.stall = None  # ticks at which a stalled non-blocking connect fails


def _config():
    global _seen, _plans
    from ws2 import settings

    cfg = settings.get("faults")
    if cfg is not _seen:
        _seen = cfg
        _plans = {}
        for k in cfg or {}:
            _plans[k] = faultplan.Plan(cfg[k])


def _plan(c):
    if c.own is not None:
        return c.own or None
    _config()
    for k in c.keys:
        p = _plans.get(k)
        if p is not None:
            return p
    return None


def plan_for(key):
    """The shared plan of a config key (an entry id as text, or '*'), or None: for reading its counts."""
    _config()
    return _plans.get(str(key))


def _fail(c, p, code, kind):
    p.note("error")
    if c.stream and code in faultplan.FATAL:
        c.err = code
    raise WSAError(code, "faults: injected on %s call %d" % (kind, p.calls.get(kind, 0)))


def _pre(c, p, kind):
    # Before a counted call: a sticky error first, then this call's fail entry (errors raise here).
    if c.err:
        raise WSAError(c.err, "faults: the connection was ended by an injected error")
    act = p.call(kind)
    if isinstance(act, int):
        _fail(c, p, act, kind)
    return act


def _peer_close(c, p, code=0):
    # The "peer" ends the connection: the real peer sees it too (the lower socket is shut down).
    p.note("peer_close" if not code else "error")
    if code:
        c.err = code
    else:
        c.eof = True
    try:
        c.lt[_WSP_SHUTDOWN](c.lc, _SD_BOTH)
    except WSAError:
        pass


def _blocking(c, flags):
    return not c.nb and not flags & _MSG_DONTWAIT


def _join(buffers):
    return b"".join(bytes(b) for b in buffers) if isinstance(buffers, (list, tuple)) else bytes(buffers)


def _give(buffers, data):
    # What a recv returns for data: the bytes for an int request, else the count copied into the buffer(s).
    if isinstance(buffers, int):
        return data[:buffers]
    if not isinstance(buffers, (list, tuple)):
        buffers = (buffers,)
    got = 0
    for b in buffers:
        mv = memoryview(b)
        n = min(len(mv), len(data) - got)
        mv[:n] = data[got : got + n]
        got += n
    return got


def _size(buffers):
    if isinstance(buffers, int):
        return buffers
    if isinstance(buffers, (list, tuple)):
        return sum(len(memoryview(b)) for b in buffers)
    return len(memoryview(buffers))


# -- connect, accept ---------------------------------------------------------------------------

def WSPSocket(af, typ, proto, info, group, flags):
    """Make the lower socket through the chain and our faults socket over it."""
    c = layer.socket(_F, af, typ, proto, info, group, flags, _NAME)
    c.stream = (typ if typ > 0 else info.socket_type) == _SOCK_STREAM
    c.keys = (str(info.catalog_entry_id), str(info.protocol_chain[-1]), "*")
    return c.handle


def WSPAccept(c, condition, callback_data):
    """Accept below (unless this accept is to fail); the new socket follows the same plan."""
    p = _plan(c)
    if p is not None:
        _pre(c, p, "accept")
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    n = layer.adopt(_F, c.lt, lh, c.entry)
    n.keys = c.keys
    n.own = c.own
    return n.handle, addr


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect below, unless the plan fails or stalls this connect."""
    p = _plan(c)
    if p is not None:
        _pre(c, p, "connect")
        ms = p.spec["stall_connect_ms"]
        if ms:
            p.note("stall")
            if c.nb:
                c.stall = ticks_add(ticks_ms(), ms)
                raise WSAError(WSAEWOULDBLOCK, "faults: connect stalled")
            sleep_ms(ms)
            raise WSAError(WSAETIMEDOUT, "faults: connect stalled for %d ms" % ms)
    return c.lt[_WSP_CONNECT](c.lc, addr, caller_data, callee_data, sqos, gqos)


# -- streams --------------------------------------------------------------------------------

def _send_stream(c, p, buffers, flags, ov, cr, tid, act):
    if act == "close":
        _peer_close(c, p)
    if c.eof:
        p.note("error")
        raise WSAError(WSAECONNRESET, "faults: the peer has closed the connection")
    cap = p.spec["split_send"]
    if cap and _size(buffers) > cap:
        p.note("short_send")
        buffers = _join(buffers)[:cap]
    return c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)


def _recv_stream(c, p, buffers, flags, ov, cr, tid):
    peek = flags & _MSG_PEEK
    if c.err:
        raise WSAError(c.err, "faults: the connection was ended by an injected error")
    if c.eof:
        return (0 if not isinstance(buffers, int) else b""), 0
    act = None if peek else _pre(c, p, "recv")
    if act == "close":
        _peer_close(c, p)
        return (0 if not isinstance(buffers, int) else b""), 0
    want = _size(buffers)
    n = want
    s = p.spec
    if s["split_recv"] and n > s["split_recv"]:
        n = s["split_recv"]
    if s["close_after"]:
        left = s["close_after"] - c.rx
        if left <= 0:
            _peer_close(c, p)
            return (0 if not isinstance(buffers, int) else b""), 0
        n = min(n, left)
    if n < want and not peek:
        if n == s["split_recv"]:
            p.note("short_recv")
        if not isinstance(buffers, int):
            if isinstance(buffers, (list, tuple)):
                buffers = buffers[0]
            buffers = memoryview(buffers)[:n]
        else:
            buffers = n
    r = c.lt[_WSP_RECV](c.lc, buffers, flags, ov, cr, tid)
    if not peek:
        got = r[0] if isinstance(r[0], int) else len(r[0])
        c.rx += got
        if act == "corrupt" and got:  # one bit of what arrived, as a bad link would
            p.note("corrupt")
            if isinstance(r[0], int):
                mv = memoryview(buffers if not isinstance(buffers, (list, tuple)) else buffers[0])
                mv[:1] = p.corrupt(bytes(mv[:1]))
            else:
                r = p.corrupt(r[0]), r[1]
    return r


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send below, through the plan (short sends, failures, datagram faults on a connected datagram socket)."""
    p = _plan(c)
    if p is None:
        return c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)
    act = _pre(c, p, "send")
    if c.stream:
        return _send_stream(c, p, buffers, flags, ov, cr, tid, act)
    return _send_dgram(c, p, _join(buffers), flags, None, act)


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive below, through the plan (short reads, the peer's end, failures, datagram faults)."""
    p = _plan(c)
    if p is None:
        return c.lt[_WSP_RECV](c.lc, buffers, flags, ov, cr, tid)
    if c.stream:
        return _recv_stream(c, p, buffers, flags, ov, cr, tid)
    r = _recv_dgram(c, p, buffers, flags, "recv")
    return r[0], r[1]


# -- datagrams ------------------------------------------------------------------------------

def _lower_send(c, data, flags, addr):
    if addr is None:
        return c.lt[_WSP_SEND](c.lc, data, flags, None, None, None)
    return c.lt[_WSP_SENDTO](c.lc, data, flags, addr, None, None, None)


def _send_dgram(c, p, data, flags, addr, act):
    acts = p.dgram(True)
    if act is not None and act not in acts:
        acts.append(act)
    if "drop" in acts:
        acts = ["drop"]  # a lost datagram has nothing else happen to it
    elif "reorder" in acts and c.out is not None:
        acts.remove("reorder")  # one held back at a time
    for k in acts:
        p.note(k)
    n = len(data)
    if "drop" in acts:
        return n
    if "corrupt" in acts:
        data = p.corrupt(data)
    if "truncate" in acts:
        data = p.truncate(data)
    if "delay" in acts:
        sleep_ms(p.spec["delay_ms"])
    copies = 2 if "dup" in acts else 1
    if "reorder" in acts:
        c.out = (data, addr, copies)  # goes out after the next datagram
        return n
    for _ in range(copies):
        _lower_send(c, data, flags, addr)
    _flush_out(c)
    return n


def _flush_out(c):
    # Send the datagram held back for reorder.
    if c.out is not None:
        held, c.out = c.out, None
        for _ in range(held[2]):
            _lower_send(c, held[0], 0, held[1])


def _due(c, now):
    # The first held datagram that may be delivered now, taken off the list; else None.
    for i in range(len(c.held)):
        h = c.held[i]
        if ticks_diff(now, h[0]) >= 0:
            return c.held.pop(i)
    return None


def _recv_dgram(c, p, buffers, flags, kind):
    # -> (what recv returns, flags, source address)
    _flush_out(c)  # a datagram held back for reorder goes once the application waits for answers
    peek = flags & _MSG_PEEK
    block = _blocking(c, flags)
    while True:
        now = ticks_ms()
        h = _due(c, now)
        if h is not None:
            if peek:
                c.held.insert(0, h)
            return _give(buffers, h[1]), 0, h[2]
        if c.held and block:
            # Something is held back: wait below only until it is due.
            wait = min(ticks_diff(x[0], now) for x in c.held)
            if not c.lt[_WSP_SELECT]([c.lc], [], [], max(wait, 0))[0]:
                continue
        elif c.held:
            flags |= _MSG_DONTWAIT
        act = None if peek else _pre(c, p, kind)
        n = _size(buffers)
        if kind == "recv":
            r = c.lt[_WSP_RECV](c.lc, max(n, 1), flags, None, None, None)
            data, addr = r[0], None
        else:
            r = c.lt[_WSP_RECVFROM](c.lc, max(n, 1), flags, None, None, None)
            data, addr = r[0], r[2]
        if peek:
            return _give(buffers, data), r[1], addr
        acts = p.dgram(False)
        if act is not None and act not in acts:
            acts.append(act)
        if "drop" in acts:
            acts = ["drop"]
        for k in acts:
            p.note(k)
        if "drop" in acts:
            if not block:
                raise WSAError(WSAEWOULDBLOCK, "faults: the datagram was dropped")
            continue
        if "corrupt" in acts:
            data = p.corrupt(data)
        if "truncate" in acts:
            data = p.truncate(data)
        for x in c.held:
            if x[3]:  # a reordered datagram: this one has overtaken it
                x[0] = now
        if "reorder" in acts or "delay" in acts:
            c.held.append([ticks_add(now, p.spec["delay_ms"]), data, addr, "reorder" in acts])
            continue
        if "dup" in acts:
            c.held.append([now, data, addr, False])
        return _give(buffers, data), r[1], addr


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Send a datagram below through the plan."""
    p = _plan(c)
    if p is None:
        return c.lt[_WSP_SENDTO](c.lc, buffers, flags, addr, ov, cr, tid)
    act = _pre(c, p, "sendto")
    if c.stream:
        return _send_stream(c, p, buffers, flags, ov, cr, tid, act)
    return _send_dgram(c, p, _join(buffers), flags, addr, act)


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive a datagram below through the plan."""
    p = _plan(c)
    if p is None or c.stream:
        return c.lt[_WSP_RECVFROM](c.lc, buffers, flags, ov, cr, tid)
    return _recv_dgram(c, p, buffers, flags, "recvfrom")


# -- control, select ------------------------------------------------------------------------

def WSPGetSockOpt(c, level, name):
    """SO_ERROR reports a stalled connect's WSAETIMEDOUT (once); everything else goes below."""
    if level == _SOL_SOCKET and name == _SO_ERROR and c.stall is not None and ticks_diff(ticks_ms(), c.stall) >= 0:
        c.stall = None
        c.err = WSAETIMEDOUT
        return WSAETIMEDOUT
    return c.lt[_WSP_GETSOCKOPT](c.lc, level, name)


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """SIO_FAULTS_SET/GET/PEER_CLOSE; FIONBIO is noted on its way below; other codes go below."""
    if code == _SIO_FAULTS_SET:
        c.own = None if in_data is None else (faultplan.Plan(in_data) if in_data else {})
        return None
    if code == _SIO_FAULTS_GET:
        p = _plan(c)
        return dict(p.counts) if p is not None else {}
    if code == _SIO_FAULTS_PEER_CLOSE:
        if in_data and in_data not in faultplan.ERRORS:
            raise WSAError(10022, "faults: PEER_CLOSE takes 0 (orderly) or a WSA error of %r" % (faultplan.ERRORS,))
        p = _plan(c)
        if p is None:
            c.own = p = faultplan.Plan({})
        _peer_close(c, p, in_data or 0)
        return None
    r = c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)
    if code == _FIONBIO:
        c.nb = bool(in_data)
    return r


def _forced(c, now):
    # Readable whatever the socket below says: an injected end, or a held datagram now due.
    return c.eof or c.err or any(ticks_diff(now, h[0]) >= 0 for h in c.held)


def WSPSelect(r, w, x, ms):
    """Ask below, adding what the plans make ready (held datagrams, injected ends) and holding stalled connects."""
    now = ticks_ms()
    extra_r = [c for c in r if _forced(c, now)]
    # A stalled connect is neither writable nor failed below (nothing was asked of the socket below): it is
    # answered here, failed once its time is up.
    stalled = [c for c in w if c.stall is not None] + [c for c in x if c.stall is not None and c not in w]
    if stalled:
        w = [c for c in w if c.stall is None]
        xs = x
        x = [c for c in x if c.stall is None]
    if extra_r:
        ms = 0
    for c in r:
        for h in c.held:
            d = max(ticks_diff(h[0], now), 0)
            ms = d if ms is None else min(ms, d)
    for c in stalled:
        d = max(ticks_diff(c.stall, now), 0)
        ms = d if ms is None else min(ms, d)
    rest = [c for c in r if c not in extra_r]
    if rest or w or x:
        got = layer.select(rest, w, x, ms, _NAME)
    else:  # only held datagrams or stalled connects: wait for the first of them here
        sleep_ms(ms or 0)
        got = ([], [], [])
    now = ticks_ms()
    late = [c for c in stalled if ticks_diff(now, c.stall) >= 0 and c in xs] if stalled else []
    return (got[0] + extra_r + [c for c in r if c not in extra_r and c not in got[0] and _forced(c, now)],
            got[1], got[2] + late)


def WSPCleanup():
    """Drop one WSPStartup reference."""
    _starts.stop()
    return 0


_TABLE = layer.table({_WSP_ACCEPT: WSPAccept, _WSP_CLEANUP: WSPCleanup, _WSP_CLOSESOCKET: layer.close,
                      _WSP_CONNECT: WSPConnect, _WSP_GETSOCKOPT: WSPGetSockOpt, _WSP_IOCTL: WSPIoctl,
                      _WSP_RECV: WSPRecv, _WSP_RECVFROM: WSPRecvFrom, _WSP_SELECT: WSPSelect,
                      _WSP_SEND: WSPSend, _WSP_SENDTO: WSPSendTo, _WSP_SOCKET: WSPSocket}, _NAME)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    return _starts.start(version, upcalls, _TABLE)
