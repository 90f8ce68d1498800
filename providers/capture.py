# providers/capture: a packet capture on the board, as a layered provider (pcap a Wireshark reads).
# MIT licence; part of ws2 for MicroPython. Installed as chains; see docs/layers.md.
#
# Every socket on a capture chain passes through here. While a capture runs,
# what the socket does becomes pcap records (providers/pcap.py makes them):
# connect/accept as a TCP three-way handshake, each send and receive as
# segments numbered along the byte stream, shutdown/close as FIN, a reset
# seen by recv/send as RST, UDP datagrams with their real addresses. The
# records go to a bounded ring on flash or to a host (providers/capsink.py).
# While no capture runs a call costs one test of a module global.
#
# Switched with ws2.config(capture={...}) (read when a socket is made on the
# chain) or at once with WSAIoctl on any capture socket: SIO_CAPTURE_START
# (in: None for the configured settings, or a settings dict), _STOP, _FLUSH,
# _STATUS (out: (running, records, bytes, lost)).
import time

from providers import layer, pcap
from ws2.errors import WSAError, WSAECONNABORTED, WSAECONNRESET
from ws2.port import const, ticks_diff, ticks_ms

_WSP_ACCEPT = const(0)
_WSP_CLEANUP = const(5)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKNAME = const(13)
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
_SD_RECEIVE = const(0)
_SIO_CAPTURE_START = const(0x98000010)
_SIO_CAPTURE_STOP = const(0x38000011)
_SIO_CAPTURE_FLUSH = const(0x38000012)
_SIO_CAPTURE_STATUS = const(0x58000013)
_NAME = "capture"

_sink = None  # where records go while a capture runs; None: not capturing
_seen = None  # the ws2.config capture settings last applied
_snap = 0  # frame bytes kept per record (0: all)
_flush = [0, 0]  # flush_ms of the settings, ticks of the last flush
_ephemeral = [49152]  # the next made-up local port
_stats = [0, 0, 0]  # records written, bytes written, records lost (sink failed)
_starts = layer.Starts("ws2 packet capture layer")


def _now():
    try:
        return time.time_ns() // 1000
    except AttributeError:  # MicroPython ports without time_ns
        return int(time.time() * 1000000)


class _Cap(layer.Sock):
    """A capture socket: the lower socket, and the TCP numbering of its connection once it has one."""

    def __init__(self, table, lower_handle, entry_id):
        layer.Sock.__init__(self, table, lower_handle, entry_id)
        self.stream = True
        self.active = True  # the board connected (False: accepted)
        self.tcp = None  # pcap.Tcp once connected and seen
        self.peer = None  # (packed address, port) of a connected datagram socket
        self.local = None  # our (packed address, port) as recorded


def _emit(recs):
    global _sink
    s = _sink
    if s is None:
        return
    try:
        for r in recs:
            if _snap:
                r = pcap.cut(r, _snap)
            s.write(r)
            _stats[0] += 1
            _stats[1] += len(r)
        now = ticks_ms()
        if ticks_diff(now, _flush[1]) >= _flush[0]:  # flushing each event costs a filesystem sync
            _flush[1] = now
            s.flush()
    except Exception as e:  # flash gone, host gone: stop capturing, never fail the socket call
        _stats[2] += len(recs)
        _sink = None
        try:
            s.close()
        except Exception:
            pass
        print("capture: stopped, the output failed: %r" % (e,))


def _pack(host):
    from ws2 import inaddr

    b = inaddr.ip4(host)
    return b if b is not None else (inaddr.ip6(host) or bytes(16))


def _local(c, peer):
    # Our (packed address, port), kept for the socket's life. An unspecified address (a UDP socket that
    # never connected) becomes the address the peer was reached at: loopback for a loopback peer, else
    # the board's; port 0 (MicroPython's getsockname after an implicit bind) a made-up ephemeral port.
    if c.local is not None:
        return c.local
    name = c.lt[_WSP_GETSOCKNAME](c.lc)
    a = _pack(name[0])
    if not any(a):
        if len(a) == 4:
            a = b"\x7f\x00\x00\x01" if peer[0] == 127 else _board_ip(a)
        elif peer == b"\x00" * 15 + b"\x01":
            a = peer
    port = name[1]
    if not port:
        port = _ephemeral[0]
        _ephemeral[0] = port + 1 if port < 65535 else 49152
    c.local = (a, port)
    return c.local


def _board_ip(a):
    try:
        import network

        return _pack(network.WLAN(network.STA_IF).ifconfig()[0])
    except Exception:
        return a


def _tcp(c):
    # The connection's numbering, made (with its handshake recorded) at the first event seen.
    t = c.tcp
    if t is None:
        try:
            p = c.lt[_WSP_GETPEERNAME](c.lc)
            peer = (_pack(p[0]), p[1])
            local = _local(c, peer[0])
        except Exception:  # not connected (yet): nothing to number
            return None
        isn = (_now() * 2654435761 ^ (local[1] << 16 | peer[1])) & 0xFFFFFFFF
        t = c.tcp = pcap.Tcp(local, peer, isn, isn ^ 0x5A5A5A5A)
        _emit(t.open(_now(), c.active))
    return t


def _bytes(buffers, n):
    # The first n bytes of what a call sent or received (a buffer or a list of them).
    if isinstance(buffers, (list, tuple)):
        return b"".join(bytes(b) for b in buffers)[:n]
    mv = memoryview(buffers)  # no copy: the records are made before the call returns
    return mv[:n] if n < len(mv) else mv


def _stream(c, outbound, data):
    t = _tcp(c)
    if t is not None:
        _emit(t.fin(_now(), outbound) if not data else t.data(_now(), outbound, data))


def _dgram(c, outbound, addr, data):
    try:
        if addr is None:
            if c.peer is None:
                p = c.lt[_WSP_GETPEERNAME](c.lc)
                c.peer = (_pack(p[0]), p[1])
            peer = c.peer
        else:
            peer = (_pack(addr[0]), addr[1])
        la, lp = _local(c, peer[0])
    except Exception:
        return
    if outbound:
        _emit((pcap.udp(_now(), True, la, peer[0], lp, peer[1], data),))
    else:
        _emit((pcap.udp(_now(), False, peer[0], la, peer[1], lp, data),))


def _reset(c, e):
    # A reset the lower provider reported: RST from the peer, recorded once.
    if _sink is not None and c.stream and e.args and e.args[0] in (WSAECONNRESET, WSAECONNABORTED):
        t = _tcp(c)
        if t is not None and not (t.fin_in and t.fin_out):
            _emit(t.rst(_now(), False))


def _apply(cfg):
    # Start with cfg ({} stops), the settings being ws2.config's capture value or an ioctl's dict.
    global _sink, _snap
    stop()
    if cfg:
        from providers import capsink

        _snap = cfg.get("snap", 0)
        _flush[0] = cfg.get("flush_ms", 250)
        _sink = capsink.open_sink(cfg)


def _config():
    # Follow ws2.config(capture=...): applied when it changed since we last looked.
    global _seen
    from ws2 import settings

    cfg = settings.get("capture")
    if cfg is not _seen:
        _seen = cfg
        _apply(cfg)


def flush():
    """Push what waits in RAM to the output (SIO_CAPTURE_FLUSH; `make capture` calls it before fetching)."""
    if _sink is not None:
        _sink.flush()


def stop():
    """Stop capturing and close the output (the files stay readable)."""
    global _sink
    s = _sink
    _sink = None
    if s is not None:
        s.close()


def WSPSocket(af, typ, proto, info, group, flags):
    """Make the lower socket through the chain and our capture socket over it."""
    _config()
    c = layer.socket(_Cap, af, typ, proto, info, group, flags, _NAME)
    c.stream = (typ if typ > 0 else info.socket_type) == _SOCK_STREAM
    return c.handle


def WSPAccept(c, condition, callback_data):
    """Accept below; the new socket's handshake is recorded as the board's (passive) open."""
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    n = layer.adopt(_Cap, c.lt, lh, c.entry)
    n.active = False
    if _sink is not None:
        _tcp(n)
    return n.handle, addr


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect below; a stream's handshake is recorded once the connection exists."""
    r = c.lt[_WSP_CONNECT](c.lc, addr, caller_data, callee_data, sqos, gqos)
    if _sink is not None and c.stream:
        _tcp(c)
    return r


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send below; what was taken is recorded."""
    try:
        n = c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)
    except WSAError as e:
        _reset(c, e)
        raise
    if _sink is not None and n:
        if c.stream:
            _stream(c, True, _bytes(buffers, n))
        else:
            _dgram(c, True, None, _bytes(buffers, n))
    return n


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Send a datagram below; it is recorded with its destination."""
    n = c.lt[_WSP_SENDTO](c.lc, buffers, flags, addr, ov, cr, tid)
    if _sink is not None:
        if c.stream:
            if n:
                _stream(c, True, _bytes(buffers, n))
        else:
            _dgram(c, True, addr, _bytes(buffers, n))
    return n


def _got(c, buffers, r, flags, addr):
    if flags & _MSG_PEEK:
        return
    data = r[0] if not isinstance(r[0], int) else _bytes(buffers, r[0])
    if c.stream:
        _stream(c, False, data)  # b"": the peer's FIN
    else:
        _dgram(c, False, addr, data)


def _recv(c, slot, buffers, flags, ov, cr, tid):
    # WSPRecv or WSPRecvFrom below: a reset it reports is recorded, so is what it returns.
    try:
        r = c.lt[slot](c.lc, buffers, flags, ov, cr, tid)
    except WSAError as e:
        _reset(c, e)
        raise
    if _sink is not None:
        _got(c, buffers, r, flags, r[2] if slot == _WSP_RECVFROM else None)
    return r


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive below; data is recorded as the peer's, the end of the stream as its FIN."""
    return _recv(c, _WSP_RECV, buffers, flags, ov, cr, tid)


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Receive a datagram below; recorded with its source."""
    return _recv(c, _WSP_RECVFROM, buffers, flags, ov, cr, tid)


def WSPShutdown(c, how):
    """Shut down below; shutting the sending side is recorded as our FIN."""
    r = c.lt[_WSP_SHUTDOWN](c.lc, how)
    if _sink is not None and c.stream and how != _SD_RECEIVE:
        _stream(c, True, b"")
    return r


def WSPCloseSocket(c):
    """Record our FIN if the connection still had one to send, then close below."""
    if _sink is not None and c.tcp is not None:
        _emit(c.tcp.fin(_now(), True))
    return layer.close(c)


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """The SIO_CAPTURE_* codes; every other code goes below."""
    global _seen
    if code == _SIO_CAPTURE_START:
        from providers import capsink
        from ws2 import settings

        _seen = settings.get("capture")
        cfg = capsink.check({} if in_data is None else in_data) or _seen or {"kb": 64}
        _apply(cfg)
        return None
    if code == _SIO_CAPTURE_STOP:
        stop()
        return None
    if code == _SIO_CAPTURE_FLUSH:
        flush()
        return None
    if code == _SIO_CAPTURE_STATUS:
        return (_sink is not None, _stats[0], _stats[1], _stats[2])
    return c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)


def WSPSelect(r, w, x, ms):
    """Ask below about our sockets' lower contexts and map the answer back."""
    return layer.select(r, w, x, ms, _NAME)


def WSPCleanup():
    """Drop one WSPStartup reference, the last one closes the output."""
    if not _starts.stop():
        stop()
    return 0


_TABLE = layer.table({_WSP_ACCEPT: WSPAccept, _WSP_CLEANUP: WSPCleanup, _WSP_CLOSESOCKET: WSPCloseSocket,
                      _WSP_CONNECT: WSPConnect, _WSP_IOCTL: WSPIoctl, _WSP_RECV: WSPRecv,
                      _WSP_RECVFROM: WSPRecvFrom, _WSP_SELECT: WSPSelect, _WSP_SEND: WSPSend,
                      _WSP_SENDTO: WSPSendTo, _WSP_SHUTDOWN: WSPShutdown, _WSP_SOCKET: WSPSocket}, _NAME)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    return _starts.start(version, upcalls, _TABLE)
