# ws2/startup: WSAStartup / WSACleanup (version negotiation, reference count) and last error.
# MIT licence; part of ws2 for MicroPython.
from ws2 import catalog, handles, provider, state
from ws2.dispatch import fail
from ws2.errors import WSAError, WSAEINVAL, WSANOTINITIALISED, WSAVERNOTSUPPORTED, shown
from ws2.port import const

_HIGH = const(0x0202)
_WSP_CLOSESOCKET = const(6)


class WSAData:
    """What WSAStartup reports: negotiated and highest versions, description, status."""

    def __init__(self, version, high_version, description, system_status, max_sockets, max_udp_dg):
        self.version = version
        self.high_version = high_version
        self.description = description
        self.system_status = system_status
        self.max_sockets = max_sockets
        self.max_udp_dg = max_udp_dg

    def __repr__(self):
        return "WSAData(version=0x%04x, high_version=0x%04x, description=%r, system_status=%r)" % (
            self.version, self.high_version, self.description, self.system_status)


def _byte(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFF


def MAKEWORD(low, high):
    """Return the WORD with low byte low (major version) and high byte high (minor)."""
    for v in (low, high):
        if not isinstance(v, int) or isinstance(v, bool):
            raise fail(WSAError(WSAEINVAL, "MAKEWORD takes two ints, not %s" % type(v).__name__))
    return (low & 0xFF) | ((high & 0xFF) << 8)


def negotiate(requested):
    """Return the version Winsock 2.2 grants for requested, or None if unsupported."""
    major = requested & 0xFF
    minor = (requested >> 8) & 0xFF
    if major == 0:
        return None
    if major == 1:
        return MAKEWORD(1, 0 if minor == 0 else 1)
    if major == 2 and minor <= 2:
        return requested & 0xFFFF
    return _HIGH


def WSAStartup(version=0x0202):
    """Start ws2 for the caller (reference counted); return WSAData."""
    if isinstance(version, tuple) and len(version) == 2 and _byte(version[0]) and _byte(version[1]):
        version = MAKEWORD(version[0], version[1])
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= 0xFFFF:
        state.set_last_error(WSAEINVAL)
        raise WSAError(WSAEINVAL, "version must be a WORD such as 0x0202 or a (major, minor) tuple, not %s"
                       % shown(version))
    got = negotiate(version)
    if got is None:
        state.set_last_error(WSANOTINITIALISED)
        raise WSAError(WSAVERNOTSUPPORTED, "version %d.%d is not supported; ws2 offers 1.0 to 2.2" % (
            version & 0xFF, (version >> 8) & 0xFF))
    with state.lock:
        first = state.started == 0
        if first and not handles.open_handles():
            # Sized at the first start of a session, so ws2.config(max_sockets=)
            # takes effect at the next one; generations survive the resize.
            from ws2 import settings, board

            n = settings.get("max_sockets") or board.default_capacity()
            if n != handles.capacity:
                handles.init(n)
        if first:
            catalog.ensure()
            state.version = got
        elif (got & 0xFF, got >> 8) < (state.version & 0xFF, state.version >> 8):
            state.version = got  # the process version only ever goes down
        state.started += 1
    state.set_last_error(0)
    v1 = (got & 0xFF) == 1
    return WSAData(got, _HIGH, "WinSock 2.0", "Running", 32767 if v1 else 0, 65467 if v1 else 0)


def WSACleanup():
    """Drop one WSAStartup reference; the last one closes every socket and releases providers."""
    if not state.started:
        state.set_last_error(WSANOTINITIALISED)
        raise WSAError(WSANOTINITIALISED)
    with state.lock:
        state.started -= 1
        last = state.started == 0
    if last:
        close_all()
        provider.release_all()
        import sys

        ns = sys.modules.get("ws2.nsrouter")  # only if in use: never import it just to clean up
        if ns is not None and hasattr(ns, "cleanup"):
            ns.cleanup()
    return 0


def _depth(h):
    # Close order: handles of chain entries (the top layer the application
    # holds) first, then a middle layer's (layered entry, chain length 0), then
    # base sockets; each layer's close closes what it owns below.
    e = catalog.by_id(handles.entry[handles.slot_of(h)])
    n = len(e[catalog.I_CHAIN]) if e is not None else 2
    return 0 if n > 1 else (1 if n == 0 else 2)


def close_all():
    """Close every open socket, layered ones first (their close also closes what is below)."""
    from ws2 import socklife  # loaded already by any program that made a socket
    for h in sorted(handles.open_handles(), key=_depth):
        i = handles.slot_of(h)
        if handles.live[i] != h:
            continue  # closed already by the layer above it
        p = handles.prov[i]
        socklife.end_io(h, i)  # as closesocket does
        try:
            p.table[_WSP_CLOSESOCKET](handles.ctx[i])
        except Exception as e:
            print("ws2: warning: closing socket %d at cleanup: %r" % (h, e))
        if handles.live[i] == h:
            handles.free(i)
            p.sockets -= 1


def WSAGetLastError():
    """Return the calling thread's last Winsock error."""
    return state.get_last_error()


def WSASetLastError(code):
    """Set the calling thread's last Winsock error."""
    if not isinstance(code, int) or isinstance(code, bool):
        state.set_last_error(WSAEINVAL)
        raise WSAError(WSAEINVAL, "an error code is an int, not %s" % shown(code))
    state.set_last_error(code)


def WSAIsBlocking():
    """Winsock 1.1 blocking-hook query: False in Winsock 2."""
    return False


def WSASetBlockingHook(hook):
    """Winsock 1.1 only; Winsock 2.2 answers WSAEOPNOTSUPP."""
    raise fail(WSAError(10045, "blocking hooks were removed in Winsock 2"))


def WSAUnhookBlockingHook():
    """Winsock 1.1 only; Winsock 2.2 answers WSAEOPNOTSUPP."""
    raise fail(WSAError(10045, "blocking hooks were removed in Winsock 2"))
