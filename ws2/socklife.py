# ws2/socklife: socket creation and end of life: socket, WSASocket, accept, bind, closesocket.
# MIT licence; part of ws2 for MicroPython.
from ws2 import catalog, handles, provider, state
from ws2.dispatch import call, fail, prolog
from ws2.errors import WSAError, WSAEINVAL, WSAEFAULT
from ws2.protocol_info import from_tuple
from ws2.port import const

# Private copies of shared numbers (slots: ws2.spiconst, flags: ws2.handles, request kinds:
# ws2.overlapped, codes: ws2.errors/const), folded by the compiler; the unit tests check each one.
_WSP_ACCEPT = const(0)
_WSP_BIND = const(3)
_WSP_CLOSESOCKET = const(6)
_WSP_DUPLICATESOCKET = const(8)
_F_EVENTS = const(4)
_F_PENDING = const(8)
_FD_ACCEPT = const(0x08)
_WSP_SOCKET = const(28)
_WSAEINPROGRESS = const(10036)
_WSA_FLAG_OVERLAPPED = const(0x01)
_KNOWN_FLAGS = const(0xDF)  # OVERLAPPED, the four MULTIPOINT bits, ACCESS_SYSTEM_SECURITY, NO_HANDLE_INHERIT


_type, _int_t = type, int  # WSASocket's parameter named type hides the builtin there


def _int(v, what):
    if not isinstance(v, int) or isinstance(v, bool):
        raise WSAError(WSAEINVAL, "%s must be an int, not %r" % (what, v))


_infos = {}  # catalog id -> (entry tuple, WSAProtocolInfo handed to WSPSocket)
_matched = {}  # (af, type, proto) as an int -> (catalog entries, entry, Provider, WSAProtocolInfo, af, type, proto)
_MATCHED = const(8)


def _info_for(e):
    # One WSAProtocolInfo per catalog entry, rebuilt only when the entry
    # changes (a changed catalog holds new tuples): building one is ~40
    # attribute stores, the largest cost of socket() in the bench profile.
    # Providers treat protocol_info as read-only (providers/README.md).
    got = _infos.get(e[6])
    if got is not None and got[0] is e:
        return got[1]
    info = from_tuple(e)
    _infos[e[6]] = (e, info)
    return info


def WSASocket(af, type, proto, protocol_info=None, group=0, flags=0):
    """Create a socket through the first matching catalog entry (or the given protocol_info's)."""
    prolog()
    try:
        if not (_type(af) is _int_t and _type(type) is _int_t and _type(proto) is _int_t and
                _type(group) is _int_t and _type(flags) is _int_t):
            # Plain ints pass the test above at once (five _int calls were the largest cost of
            # socket()); int subclasses such as CPython's socket.AF_INET pass here, bools do not.
            _int(af, "af")
            _int(type, "type")
            _int(proto, "proto")
            _int(group, "group")
            _int(flags, "flags")
        if flags & ~_KNOWN_FLAGS:
            raise WSAError(WSAEINVAL, "unknown WSASocket flags 0x%x" % flags)
        if protocol_info is None:
            # The last matches, while the catalog is the same list and their provider is loaded: a
            # program makes its sockets of one or two kinds, and matching was a third of socket().
            m = _matched.get((af << 16) ^ (type << 8) ^ proto)
            if m is not None and m[0] is catalog.entries and m[4] == af and m[5] == type and m[6] == proto \
                    and provider.loaded.get(m[2].provider_id) is m[2]:
                try:
                    return m[2].table[_WSP_SOCKET](af, type, proto, m[3], group, flags)
                except WSAError as x:
                    if x.args[0] != _WSAEINPROGRESS:
                        raise x
                    # busy: the full search below passes it on
            e = catalog.match(af, type, proto)
            p = provider.for_entry(e)
            if len(_matched) >= _MATCHED:
                _matched.clear()
            _matched[(af << 16) ^ (type << 8) ^ proto] = (catalog.entries, e, p, _info_for(e), af, type, proto)
            while True:
                try:
                    return provider.for_entry(e).table[_WSP_SOCKET](af, type, proto, _info_for(e), group, flags)
                except WSAError as x:
                    # A provider busy with another call (WSAEINPROGRESS) passes the socket on:
                    # the lookup resumes after its entry (ReactOS; docs/winsock.md).
                    if x.args[0] != _WSAEINPROGRESS:
                        raise x
                    try:
                        e = catalog.match(af, type, proto, e)
                    except WSAError:
                        raise x  # no other entry: the busy provider's answer stands
        else:
            e = catalog.by_info(protocol_info)
            info = protocol_info  # the caller's values, 0 and FROM_PROTOCOL_INFO included
        p = provider.for_entry(e)
        return p.table[_WSP_SOCKET](af, type, proto, info, group, flags)
    except Exception as x:
        raise fail(x)


def socket(af, type, proto=0):
    """Create a socket: WSASocket with no protocol_info, overlapped-capable as on Windows."""
    return WSASocket(af, type, proto, None, 0, _WSA_FLAG_OVERLAPPED)


def bind(s, addr):
    """Bind s to a local address tuple."""
    return call(s, _WSP_BIND, addr)


def WSAAccept(s, condition=None, callback_data=0):
    """Accept a connection, asking condition(caller_id, caller_data, qos, callee_id, callback_data) first."""
    if condition is not None and not callable(condition):
        state.set_last_error(WSAEFAULT)
        raise WSAError(WSAEFAULT, "condition must be callable")
    return _accept(s, condition, callback_data)


def accept(s):
    """Accept a connection; returns (new socket, peer address)."""
    return _accept(s, None, 0)


def _accept(s, condition, callback_data):
    i = handles.slot(s)
    registered = handles.flags[i] & _F_EVENTS
    if registered:
        from ws2 import netevents

        netevents.rearm(s, _FD_ACCEPT)  # accept re-enables FD_ACCEPT, even when it fails
    h, addr = call(s, _WSP_ACCEPT, condition, callback_data)
    if registered:
        reg = netevents.regs.get(s)
        if reg is not None:  # the accepted socket inherits the listening socket's registration
            netevents._register(h, reg.event, reg.callback, reg.mask)
    return h, addr


def WSADuplicateSocket(s, thread_id=None):
    """Return a WSAProtocolInfo from which WSASocket(FROM_PROTOCOL_INFO, ..., protocol_info=info) opens the same socket."""
    return call(s, _WSP_DUPLICATESOCKET, thread_id)


def end_io(s, i):
    """Socket s (slot i) is closing: cancel its event registration, abort its pending requests."""
    if handles.flags[i] & (_F_EVENTS | _F_PENDING):
        from ws2 import netevents, overlapped

        netevents.forget(s)  # closesocket cancels the registration
        overlapped.abort(s)  # and completes pending requests with WSA_OPERATION_ABORTED


def closesocket(s):
    """Close s; its handle becomes stale (WSAENOTSOCK) at once."""
    i = handles.slot(s)
    p = handles.prov[i]
    if handles.flags[i] & (_F_EVENTS | _F_PENDING):
        end_io(s, i)
    try:
        p.table[_WSP_CLOSESOCKET](handles.ctx[i])
    except Exception as e:
        raise fail(e)
    # A provider that made the handle frees it with WPUCloseSocketHandle; if it
    # forgot, the router does, so a buggy provider cannot leak table slots.
    if handles.live[i] == s:
        with state.lock:
            handles.free(i)
            p.sockets -= 1
        provider.maybe_release(p)
    return 0
