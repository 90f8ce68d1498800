# ws2/nsrouter: the namespace router: WSALookupService*, and getaddrinfo & co built on it.
# MIT licence; part of ws2 for MicroPython.
#
# As in ReactOS' nsquery: Begin starts the query on every enabled provider of
# the namespace asked for (NS_ALL: all of them, in catalog order) and keeps
# those that accepted it; Next drains them one after the other, moving on at
# each WSA_E_NO_MORE; End closes them all. getaddrinfo asks NS_ALL, so an
# installed provider (a hosts file, mDNS) answers before or after DNS by its
# place in the namespace catalog.
from ws2 import inaddr, nscatalog, nsprovider, state
from ws2.dispatch import fail, prolog
from ws2.errors import (WSAError, WSA_E_NO_MORE, WSA_INVALID_HANDLE, WSAEAFNOSUPPORT, WSAEFAULT,
                        WSAEINVAL, WSAENOMORE, WSAEPROTONOSUPPORT, WSAESOCKTNOSUPPORT, WSAHOST_NOT_FOUND,
                        WSANO_DATA, WSANO_RECOVERY, WSASERVICE_NOT_FOUND, WSATRY_AGAIN, WSATYPE_NOT_FOUND,
                        wsa_code, shown)
from ws2.queryset import (RESULT_IS_ALIAS, SVCID_HOSTNAME, SVCID_INET_HOSTADDRBYINETSTRING,
                          SVCID_INET_HOSTADDRBYNAME, WSAQuerySet)

# Public names ws2 finds here (see _WHERE in ws2/__init__.py); the WSC* ones live in nscatalog.
from ws2.nscatalog import (WSAEnumNameSpaceProviders, WSANameSpaceInfo, WSCEnableNSProvider,  # noqa: F401
                           WSCEnumNameSpaceProviders, WSCInstallNameSpace, WSCUnInstallNameSpace)
from ws2.queryset import (SVCID_DNS_TYPE_A, SVCID_DNS_TYPE_AAAA, SVCID_DNS_TYPE_PTR,  # noqa: F401
                          SVCID_INET_SERVICEBYNAME)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_AF_INET = const(2)
_AF_INET6 = const(23)
_LUP_CONTAINERS = const(0x2)
_LUP_NOCONTAINERS = const(0x4)
_LUP_RETURN_NAME = const(0x10)
_LUP_RETURN_ADDR = const(0x100)
_LUP_RETURN_ALIASES = const(0x400)
_AI_PASSIVE = const(0x1)
_AI_CANONNAME = const(0x2)
_AI_NUMERICHOST = const(0x4)
_AI_NUMERICSERV = const(0x8)
_AI_KNOWN = const(0xD0F)  # PASSIVE CANONNAME NUMERICHOST NUMERICSERV ALL ADDRCONFIG V4MAPPED
_NI_NOFQDN = const(0x1)
_NI_NUMERICHOST = const(0x2)
_NI_NAMEREQD = const(0x4)
_NI_NUMERICSERV = const(0x8)
_NSP_BEGIN = const(1)
_NSP_NEXT = const(2)
_NSP_END = const(3)
_NSP_IOCTL = const(8)
_SIO_NSP_CACHED = const(0x58000010)  # ws2's own NSPIoctl code: the provider's cache-only lookup (see _cached)
_MEMO = const(8)  # numeric getaddrinfo answers kept
# well-known services (the board has no /etc/services); searched as text so it stays in flash
_SERVICES = " echo:7 ftp:21 ssh:22 telnet:23 smtp:25 domain:53 http:80 pop3:110 ntp:123 imap:143 snmp:161" \
            " ldap:389 https:443 mqtts:8883 mqtt:1883 coap:5683 "

_lookups = {}  # router lookup handle -> [[(NSProvider, provider handle)], index of the current one]
# getaddrinfo of a numeric (or no) host asks nobody: its answer depends on the arguments and the catalog
# only, so the last few are kept (an HTTP client asks the same one on every request), with the catalog
# they were made from; a changed catalog is a new list.
_memo = {}  # (host, port, family, type, proto, flags) -> (catalog entries, result tuple)
_kinds_memo = {}  # (family, type, proto) -> (catalog entries, _kinds result)
_int_t = int
_catalog = None  # ws2.catalog, once getaddrinfo has used it
_only = None  # (namespace catalog entries, id of the only enabled provider or None)
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
                opened.append((p, p.routines[_NSP_BEGIN](p.provider_id, query, None, flags)))
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
            return p.routines[_NSP_NEXT](h, flags)
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
            p.routines[_NSP_END](h)
        except Exception as x:
            print("ws2: warning: %s.NSPLookupServiceEnd failed: %r" % (p.path, x))
    return 0


def _results(query, flags):
    """Run a whole lookup; return its results as a list."""
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
                p.routines[_NSP_END](ph)
            except Exception:
                pass
    nsprovider.release_all()


# -- getaddrinfo & co -------------------------------------------------------------

def _port(port, flags):
    if port is None:
        return 0
    if isinstance(port, bytes):
        port = str(port, "ascii")
    if isinstance(port, int) and not isinstance(port, bool):
        if 0 <= port <= 65535:
            return port
        raise WSAError(WSATYPE_NOT_FOUND, "port %d is out of range" % port)
    if not isinstance(port, str):
        raise WSAError(WSAEINVAL, "port must be an int, a str or None, not %r" % (port,))
    if port.isdigit():
        n = int(port)
        if n <= 65535:
            return n
        raise WSAError(WSATYPE_NOT_FOUND, "port %s is out of range" % port)
    if flags & _AI_NUMERICSERV:
        raise WSAError(WSAHOST_NOT_FOUND, "AI_NUMERICSERV given with service %r" % port)
    i = _SERVICES.find(" %s:" % port.lower()) if port and " " not in port else -1
    if i < 0:
        raise WSAError(WSATYPE_NOT_FOUND, "unknown service %r" % port)
    i += len(port) + 2
    return int(_SERVICES[i : _SERVICES.find(" ", i)])


def _service_name(port):
    i = _SERVICES.find(":%d " % port)
    if i < 0:
        return str(port)
    return _SERVICES[_SERVICES.rfind(" ", 0, i) + 1 : i]


def _kinds(family, type, proto):
    """[(af, [(type, proto), ...])] the catalog offers, in catalog order, for these filters."""
    from ws2 import catalog

    catalog.ensure()
    out = []
    any_type = any_af = False
    for e in catalog.visible():
        if not e[catalog.I_CHAIN]:
            continue  # a layered entry is not a protocol by itself
        af = e[catalog.I_AF]
        if af not in (_AF_INET, _AF_INET6) or (family and af != family):
            continue
        any_af = True
        if type and e[catalog.I_TYPE] != type:
            continue
        any_type = True
        p = e[catalog.I_PROTOCOL]
        if proto and not p <= proto <= p + e[catalog.I_MAX_OFFSET]:
            continue
        k = (e[catalog.I_TYPE], proto or p)
        for f, ks in out:
            if f == af:
                if k not in ks:
                    ks.append(k)
                break
        else:
            out.append((af, [k]))
    if not out:
        if not any_af:
            raise WSAError(WSAEAFNOSUPPORT, "no installed protocol offers address family %d" % family)
        if not any_type:
            raise WSAError(WSAESOCKTNOSUPPORT, "no installed protocol offers socket type %d" % type)
        raise WSAError(WSAEPROTONOSUPPORT, "no installed protocol %d of socket type %d" % (proto, type))
    return out


def _sockaddr(af, host, port):
    if af == _AF_INET:
        return (host, port)
    scope = 0
    k = host.find("%")
    if k >= 0:
        s = host[k + 1 :]
        scope = int(s) if s.isdigit() else 0
    return (inaddr.canonical(host), port, 0, scope)


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """Resolve host and service: [(family, type, proto, canonname, sockaddr)] (Winsock values)."""
    if not state.started:
        prolog()
    t = _int_t
    if _memo and family.__class__ is t and type.__class__ is t and proto.__class__ is t and flags.__class__ is t:
        try:
            m = _memo.get((host, port, family, type, proto, flags))
        except TypeError:  # an unhashable host or port: the checks below say what is wrong
            m = None
        if m is not None and m[0] is _catalog.entries:
            state.set_last_error(0)
            return list(m[1])
    try:
        for v, what in ((family, "family"), (type, "type"), (proto, "proto"), (flags, "flags")):
            if not isinstance(v, int) or isinstance(v, bool):
                raise WSAError(WSAEINVAL, "%s must be an int, not %r" % (what, v))
        if flags & ~_AI_KNOWN:
            raise WSAError(WSAEINVAL, "unknown getaddrinfo flags 0x%x" % (flags & ~_AI_KNOWN))
        if family not in (0, _AF_INET, _AF_INET6):
            raise WSAError(WSAEAFNOSUPPORT, "family %d is neither AF_INET nor AF_INET6" % family)
        key = host
        if isinstance(host, (bytes, bytearray)):
            host = str(host, "ascii")
        if host is not None and not isinstance(host, str):
            raise WSAError(WSAEINVAL, "host must be a str or None, not %r" % (host,))
        if not host and port is None:
            raise WSAError(WSAHOST_NOT_FOUND, "host and port cannot both be empty")
        if not host and flags & _AI_CANONNAME:
            raise WSAError(WSAEINVAL, "AI_CANONNAME needs a host name")
        n = _port(port, flags)
        entries, kinds = _kinds_of(family, type, proto)
        fams = [k[0] for k in kinds]
        canon = ""
        numeric = True
        if not host:
            # no host: the wildcard for a server (AI_PASSIVE), else loopback
            passive = flags & _AI_PASSIVE
            addrs = [(af, ("0.0.0.0" if passive else "127.0.0.1") if af == _AF_INET else ("::" if passive else "::1"))
                     for af in fams]
        else:
            af = inaddr.family(host)
            if af:
                if family and af != family:
                    raise WSAError(WSAHOST_NOT_FOUND, "%s is not an address of family %d" % (host, family))
                if af not in fams:
                    raise WSAError(WSAEAFNOSUPPORT, "no installed protocol offers the family of %s" % host)
                addrs = [(af, host)]
                canon = host
            elif flags & _AI_NUMERICHOST:
                raise WSAError(WSAHOST_NOT_FOUND, "AI_NUMERICHOST given and %r is not a numeric address" % host)
            else:
                numeric = False
                addrs = None if flags & _AI_CANONNAME else _cached(host, fams)
                if addrs is None:
                    canon, addrs = _resolve(host, fams, flags & _AI_CANONNAME)
        out = []
        for af, a in addrs:
            for f, ks in kinds:
                if f != af:
                    continue
                sa = _sockaddr(af, a, n)
                for t, p in ks:
                    out.append((af, t, p, canon if not out and flags & _AI_CANONNAME else "", sa))
        if not out:
            raise WSAError(WSANO_DATA, "%s has no address of the families asked for" % host)
        if numeric and not isinstance(key, bytearray) and not isinstance(port, bytearray):
            if len(_memo) >= _MEMO:
                _memo.clear()
            _memo[(key, port, family, type, proto, flags)] = (entries, tuple(out))
        state.set_last_error(0)
        return out
    except Exception as x:
        raise fail(x)


def _kinds_of(family, type, proto):
    # (catalog entries, _kinds(...)) kept per filter while the catalog stays the same list.
    global _catalog
    from ws2 import catalog

    _catalog = catalog  # for the memo's check (loaded from here on)
    catalog.ensure()
    entries = catalog.entries
    k = (family, type, proto)
    m = _kinds_memo.get(k)
    if m is None or m[0] is not entries:
        if len(_kinds_memo) >= _MEMO:
            _kinds_memo.clear()
        m = _kinds_memo[k] = (entries, _kinds(family, type, proto))
    return m


def _cached(host, fams):
    # The addresses of host from the namespace provider's cache alone ([(af, ip)]), or None: then a
    # full lookup. Only when one provider is enabled and loaded (the default: nspm) and it offers a
    # cache-only entry through NSPIoctl(None, SIO_NSP_CACHED, ...): fn(name, af) -> [ip] or None.
    global _only
    o = _only
    if o is None or o[0] is not nscatalog.entries:
        es = nscatalog.active(0)
        o = _only = (nscatalog.entries, es[0][nscatalog.I_PROVIDER_ID] if len(es) == 1 else None)
    p = nsprovider.loaded.get(o[1]) if o[1] is not None else None
    if p is None:
        return None
    fn = getattr(p, "cached", None)
    if fn is None:
        try:
            fn = p.routines[_NSP_IOCTL](None, _SIO_NSP_CACHED, None, None, None)
        except Exception:
            fn = False
        p.cached = fn = fn if callable(fn) else False
    if not fn:
        return None
    addrs = []
    for af in fams:
        vals = fn(host, af)
        if vals is None:
            return None
        for v in vals:
            if (af, v) not in addrs:
                addrs.append((af, v))
    return addrs


def _resolve(host, fams, want_name):
    q = WSAQuerySet(service_instance_name=host, service_class_id=SVCID_HOSTNAME, name_space=0,
                    afp_protocols=[(af, 0) for af in fams])
    canon = ""
    addrs = []
    for r in _results(q, _LUP_RETURN_ADDR | (_LUP_RETURN_NAME if want_name else 0)):
        if r.output_flags & RESULT_IS_ALIAS:
            continue
        if not canon and r.service_instance_name:
            canon = r.service_instance_name
        for csa in r.csa_buffer or ():
            sa = csa[1]
            af = _AF_INET6 if len(sa) == 4 else _AF_INET
            if af in fams and (af, sa[0]) not in addrs:
                addrs.append((af, sa[0]))
    if not addrs:
        raise WSAError(WSANO_DATA, "%s has no address of the families asked for" % host)
    return canon, addrs


def _hostent(query, af):
    """Run a lookup for gethostby*; return (h_name, h_aliases, h_addrtype, h_addr_list)."""
    name = None
    aliases = []
    addrs = []
    for r in _results(query, _LUP_RETURN_NAME | _LUP_RETURN_ADDR | _LUP_RETURN_ALIASES):
        if r.output_flags & RESULT_IS_ALIAS:
            if r.service_instance_name not in aliases:
                aliases.append(r.service_instance_name)
            continue
        if name is None:
            name = r.service_instance_name
        for csa in r.csa_buffer or ():
            sa = csa[1]
            if (len(sa) == 4) == (af == _AF_INET6) and sa[0] not in addrs:
                addrs.append(sa[0])
    return name, aliases, addrs


def gethostbyname(name):
    """Winsock 1 IPv4 lookup: returns the HOSTENT tuple (h_name, h_aliases, AF_INET, h_addr_list)."""
    prolog()
    try:
        if not isinstance(name, str):
            raise WSAError(WSAEFAULT, "name must be a str")
        if inaddr.ip4(name) is not None:
            return (name, [], _AF_INET, [name])
        q = WSAQuerySet(service_instance_name=name, service_class_id=SVCID_INET_HOSTADDRBYNAME, name_space=0,
                        afp_protocols=[(_AF_INET, 0)])
        h_name, aliases, addrs = _hostent(q, _AF_INET)
        if not addrs:
            raise WSAError(WSANO_DATA, "%s has no IPv4 address" % name)
        return (h_name or name, aliases, _AF_INET, addrs)
    except Exception as x:
        raise fail(x)


def gethostbyaddr(addr):
    """Reverse lookup of an address text: returns (h_name, h_aliases, h_addrtype, [addr])."""
    prolog()
    try:
        if isinstance(addr, (bytes, bytearray)) and len(addr) in (4, 16):
            addr = inaddr.ntop4(addr) if len(addr) == 4 else inaddr.ntop6(addr)
        af = inaddr.family(addr) if isinstance(addr, str) else 0
        if not af:
            raise WSAError(WSAEFAULT, "addr must be a numeric IPv4/IPv6 address, not %r" % (addr,))
        q = WSAQuerySet(service_instance_name=addr, service_class_id=SVCID_INET_HOSTADDRBYINETSTRING, name_space=0)
        h_name, aliases, addrs = _hostent(q, af)
        if not h_name:
            raise WSAError(WSAHOST_NOT_FOUND, "no name for %s" % addr)
        return (h_name, aliases, af, [addr])
    except Exception as x:
        raise fail(x)


def getnameinfo(sockaddr, flags=0):
    """Return (host, service) for a sockaddr tuple, by reverse lookup unless NI_NUMERICHOST."""
    prolog()
    try:
        if not isinstance(sockaddr, tuple) or len(sockaddr) not in (2, 4):
            raise WSAError(WSAEFAULT, "sockaddr must be (host, port) or (host, port, flowinfo, scope_id)")
        host, port = sockaddr[0], sockaddr[1]
        if not isinstance(host, str) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise WSAError(WSAEFAULT, "sockaddr must hold a str host and an int port, not %r" % (sockaddr,))
        af = inaddr.family(host)
        if not af:
            raise WSAError(WSAEAFNOSUPPORT, "%r is not a numeric IPv4/IPv6 address" % host)
        serv = str(port) if flags & _NI_NUMERICSERV else _service_name(port)
        if flags & _NI_NUMERICHOST:
            if flags & _NI_NAMEREQD:
                raise WSAError(WSAHOST_NOT_FOUND, "NI_NAMEREQD and NI_NUMERICHOST exclude each other")
            return host, serv
        try:
            q = WSAQuerySet(service_instance_name=host, service_class_id=SVCID_INET_HOSTADDRBYINETSTRING, name_space=0)
            name = _hostent(q, af)[0]
            if not name:
                raise WSAError(WSAHOST_NOT_FOUND, "no name for %s" % host)
        except WSAError:
            if flags & _NI_NAMEREQD:
                raise
            name = host
        else:
            if flags & _NI_NOFQDN:
                name = name.split(".")[0]
        state.set_last_error(0)
        return name, serv
    except Exception as x:
        raise fail(x)
