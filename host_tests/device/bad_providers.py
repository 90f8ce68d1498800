# host_tests/device/bad_providers: a transport provider for tests, good or deliberately broken.
# MIT licence; part of ws2 for MicroPython.
#
# Not a test module: device tests install it at test time and name it in
# UPLOAD, so the harness copies it to the board's /dtest too. What it does is
# chosen per load by the provider_reserved field of the catalog entry that
# caused the load (MODE_*). Sockets are in-memory: a connected socket gets back
# what it sends, an unconnected one swallows it, so the router can be tested
# without the network and without allocations of its own.
from ws2.errors import WSAError

MODE_GOOD = 0
MODE_SHORT_TABLE = 1  # WSPStartup answers 29 slots
MODE_NOT_CALLABLE = 2  # slot 23 (WSPSend) is None
MODE_RAISING_STARTUP = 3  # WSPStartup raises RuntimeError
MODE_OLD_VERSION = 4  # WSPStartup offers 1.1
MODE_RAISING_SEND = 5  # WSPSend raises; what it raises depends on the data (see _raising_send)
MODE_BAD_RESULT = 6  # WSPStartup returns a bare proc table, not (data, table)
MODE_BUSY = 7  # WSPSocket answers WSAEINPROGRESS (busy): socket() must go on to the next entry

_EINPROGRESS = 10036
_ENOPROTOOPT = 10042
_EOPNOTSUPP = 10045

starts = 0  # WSPStartup - WSPCleanup
cleanups = 0
log = []  # what the address-conversion and socket slots were given (the last few calls)
_upcalls = None
_NOTHING = (0, 0)  # preallocated results: the router's hot path is measured through us
_NO_DATA = (b"", 0)
_NO_DGRAM = (0, 0, None)


def _log(entry):
    if len(log) >= 4:  # bounded: a 10,000-socket test must not grow the heap through us
        del log[0]
    log.append(entry)


class _S:
    def __init__(self, info):
        self.info = info
        self.handle = 0
        self.queue = None  # list of bytes once connected (loopback)


def WSPSocket(af, typ, proto, info, group, flags):
    _log(("socket", af, typ, proto, info))
    if info.provider_reserved == MODE_BUSY:
        raise WSAError(_EINPROGRESS, "busy on purpose")
    c = _S(info)
    c.handle = _upcalls.WPUCreateSocketHandle(info.catalog_entry_id, c)
    return c.handle


def WSPCloseSocket(c):
    _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    c.queue = []
    return 0


def WSPSend(c, buffers, flags, ov, cr, tid):
    if c.queue is not None:
        c.queue.append(bytes(buffers))
    return len(buffers)


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    return WSPSend(c, buffers, flags, ov, cr, tid)


def WSPRecv(c, buffers, flags, ov, cr, tid):
    if not c.queue:
        return _NO_DATA if isinstance(buffers, int) else _NOTHING
    data = c.queue.pop(0)
    if isinstance(buffers, int):
        return data[:buffers], 0
    n = min(len(buffers), len(data))
    buffers[:n] = data[:n]
    return n, 0


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    if not c.queue:
        return _NO_DGRAM
    r = WSPRecv(c, buffers, flags, ov, cr, tid)
    return r[0], 0, ("loopback", 0)


def WSPStringToAddress(text, af, info):
    _log(("s2a", text, af, info.catalog_entry_id))
    return ("fake:" + text, af)


def WSPAddressToString(addr, info):
    _log(("a2s", addr, info.catalog_entry_id))
    return "fake:%s" % (addr[0],)


def WSPCleanup():
    global starts, cleanups
    starts -= 1
    cleanups += 1
    return 0


def _ok(*args):
    return 0


def _no_option(*args):
    raise WSAError(_ENOPROTOOPT)


def _unsupported(*args):
    raise WSAError(_EOPNOTSUPP)


def _raising_send(c, buffers, flags, ov, cr, tid):
    # The provider bugs a router must survive, one per payload.
    if buffers == b"oserror":
        raise OSError(104)  # ECONNRESET on every port's numbering
    if buffers == b"memory":
        raise MemoryError("out of memory on purpose")
    if buffers == b"zero":
        raise WSAError(0, "a provider that failed without a code")
    if buffers == b"type":
        raise TypeError("a provider's own TypeError")
    raise RuntimeError("WSPSend failed on purpose")


def _table():
    # Built by slot name at each WSPStartup (a load), as a provider author does;
    # every slot not named here is WSAEOPNOTSUPP.
    from ws2 import spiconst as n

    t = [_unsupported] * n.WSP_TABLE_SIZE
    for slot, fn in ((n.WSP_ADDRESSTOSTRING, WSPAddressToString), (n.WSP_BIND, _ok), (n.WSP_CLEANUP, WSPCleanup),
                     (n.WSP_CLOSESOCKET, WSPCloseSocket), (n.WSP_CONNECT, WSPConnect), (n.WSP_GETSOCKOPT, _no_option),
                     (n.WSP_LISTEN, _ok), (n.WSP_RECV, WSPRecv), (n.WSP_RECVFROM, WSPRecvFrom), (n.WSP_SEND, WSPSend),
                     (n.WSP_SENDTO, WSPSendTo), (n.WSP_SETSOCKOPT, _no_option), (n.WSP_SHUTDOWN, _ok),
                     (n.WSP_SOCKET, WSPSocket), (n.WSP_STRINGTOADDRESS, WSPStringToAddress)):
        t[slot] = fn
    return t, n.WSP_SEND


def WSPStartup(version, info, upcalls):
    """Provider entry point; misbehaves as info.provider_reserved says."""
    global _upcalls, starts
    mode = info.provider_reserved
    if mode == MODE_RAISING_STARTUP:
        raise RuntimeError("WSPStartup failed on purpose")
    _upcalls = upcalls
    starts += 1
    table, send = _table()
    if mode == MODE_SHORT_TABLE:
        table = table[:-1]
    elif mode == MODE_NOT_CALLABLE:
        table[send] = None
    elif mode == MODE_RAISING_SEND:
        table[send] = _raising_send
    elif mode == MODE_BAD_RESULT:
        return tuple(table)
    return (0x0101 if mode == MODE_OLD_VERSION else 0x0202, 0x0202, "bad_providers"), tuple(table)
