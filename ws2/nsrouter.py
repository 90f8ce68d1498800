# ws2/nsrouter: the namespace router: WSALookupServiceBegin/Next/End over the namespace providers.
# MIT licence; part of ws2 for MicroPython.
#
# As in ReactOS' nsquery: Begin starts the query on every enabled provider of
# the namespace asked for (NS_ALL: all of them, in catalog order) and keeps
# those that accepted it; Next drains them one after the other, moving on at
# each WSA_E_NO_MORE; End closes them all. getaddrinfo & co (ws2/addrinfo) ask
# NS_ALL, so an installed provider (a hosts file, mDNS) answers before or after
# DNS by its place in the namespace catalog.
from ws2 import nscatalog, nsprovider, state
from ws2.dispatch import fail, prolog
from ws2.errors import (shown, WSAError, WSA_E_NO_MORE, WSA_INVALID_HANDLE, WSAEFAULT, WSAEINVAL, WSAENOMORE,
                        WSAHOST_NOT_FOUND, WSANO_DATA, WSANO_RECOVERY, WSASERVICE_NOT_FOUND, WSATRY_AGAIN,
                        wsa_code)
from ws2.port import const
from ws2.queryset import WSAQuerySet

_LUP_CONTAINERS = const(0x2)
_LUP_NOCONTAINERS = const(0x4)
_NSP_LOOKUPSERVICEBEGIN = const(1)
_NSP_LOOKUPSERVICENEXT = const(2)
_NSP_LOOKUPSERVICEEND = const(3)

_lookups = {}  # router lookup handle -> [[(NSProvider, provider handle)], index of the current one]
_next_handle = 1


def _rank(code):
    # which failure to report when every provider failed: the most actionable
    for i, c in ((4, WSATRY_AGAIN), (3, WSANO_RECOVERY), (2, WSANO_DATA), (1, WSAHOST_NOT_FOUND)):
        if code == c:
            return i
    return 0


def _targets(query):
    if query.ns_provider_id is not None:
        pid = nscatalog.guid(query.ns_provider_id)
        nscatalog.ensure()
        i = nscatalog.find(pid)
        if i < 0 or not nscatalog.entries[i][nscatalog.I_ACTIVE]:
            raise WSAError(WSAEINVAL, "namespace provider %s is not installed or not enabled" % pid)
        return [nscatalog.entries[i]]
    ns = query.name_space or 0
    got = nscatalog.active(ns)
    if not got:
        raise WSAError(WSASERVICE_NOT_FOUND, "no enabled namespace provider serves namespace %d" % ns)
    return got


def WSALookupServiceBegin(query, flags=0):
    """Start a name-service query on every enabled provider it concerns; returns a lookup handle."""
    global _next_handle
    prolog()
    try:
        if not isinstance(query, WSAQuerySet):
            raise WSAError(WSAEFAULT, "query must be a WSAQuerySet")
        if query.service_class_id is None:
            raise WSAError(WSAEINVAL, "query.service_class_id is required (e.g. SVCID_HOSTNAME)")
        if flags & _LUP_CONTAINERS and flags & _LUP_NOCONTAINERS:
            raise WSAError(WSAEINVAL, "LUP_CONTAINERS and LUP_NOCONTAINERS exclude each other")
        opened = []
        err = None
        for e in _targets(query):
            try:
                p = nsprovider.for_entry(e)
                opened.append((p, p.routines[_NSP_LOOKUPSERVICEBEGIN](p.provider_id, query, None, flags)))
            except Exception as x:
                if err is None or _rank(wsa_code(x)) > _rank(wsa_code(err)):
                    err = x
        if not opened:
            raise err
        with state.lock:
            h = _next_handle
            _next_handle = h + 1 if h < 0x7FFFFFFF else 1
            _lookups[h] = [opened, 0]
        return h
    except Exception as x:
        raise fail(x)


def _is_handle(h):
    # Lookup handles are ints; anything else (a list, a dict) cannot even be looked up.
    return isinstance(h, int) and not isinstance(h, bool)


def WSALookupServiceNext(handle, flags=0):
    """Return the next result (a WSAQuerySet); WSA_E_NO_MORE when every provider is done."""
    prolog()
    lk = _lookups.get(handle) if _is_handle(handle) else None
    if lk is None:
        raise fail(WSAError(WSA_INVALID_HANDLE, "no open lookup %s" % shown(handle)))
    opened = lk[0]
    while lk[1] < len(opened):
        p, h = opened[lk[1]]
        try:
            return p.routines[_NSP_LOOKUPSERVICENEXT](h, flags)
        except Exception as x:
            if wsa_code(x) not in (WSA_E_NO_MORE, WSAENOMORE):
                raise fail(x)
        lk[1] += 1
    raise fail(WSAError(WSA_E_NO_MORE))


def WSALookupServiceEnd(handle):
    """Close a lookup on every provider it started on."""
    prolog()
    lk = _lookups.pop(handle, None) if _is_handle(handle) else None
    if lk is None:
        raise fail(WSAError(WSA_INVALID_HANDLE, "no open lookup %s" % shown(handle)))
    for p, h in lk[0]:
        try:
            p.routines[_NSP_LOOKUPSERVICEEND](h)
        except Exception as x:
            print("ws2: warning: %s.NSPLookupServiceEnd failed: %r" % (p.path, x))
    return 0


def results(query, flags):
    """Run a whole lookup (Begin, Next until no more, End); return its results as a list."""
    h = WSALookupServiceBegin(query, flags)
    out = []
    try:
        while True:
            try:
                out.append(WSALookupServiceNext(h, flags))
            except WSAError as e:
                if e.args[0] not in (WSA_E_NO_MORE, WSAENOMORE):
                    raise
                break
    finally:
        WSALookupServiceEnd(h)
    state.set_last_error(0)
    return out


def cleanup():
    """End open lookups and release the namespace providers (called by the last WSACleanup)."""
    for h in list(_lookups):
        lk = _lookups.pop(h)
        for p, ph in lk[0]:
            try:
                p.routines[_NSP_LOOKUPSERVICEEND](ph)
            except Exception:
                pass
    nsprovider.release_all()
