# providers/nspm: the DNS namespace provider (CE's nspm.dll): its own DNS client, cache and hosts table.
# MIT licence; part of ws2 for MicroPython.
#
# A client of the API it serves: queries go out on ws2 sockets (so through
# wspm, or whatever the catalog puts first), between a WSAStartup/WSACleanup
# pair of its own. Settings are read at query time (ws2.config changes apply
# at once): dns_servers [(ip, port)], dns_timeout_ms (the deadline of one
# whole query, all retries included), hosts {name: address}. With no server
# configured it falls back to the port's own resolver (lwIP on the boards).
#
# Which server is asked, for how long, and when one is out of the rotation is
# providers/dnsretry's schedule. Answers are accepted only from a server asked
# (a connected socket per server), with the query's random id and question, on
# a socket bound to a random port.
from providers import dnsmsg
from ws2 import inaddr
from ws2.errors import (WSAError, WSA_E_NO_MORE, WSA_INVALID_HANDLE, WSAEINVAL, WSAEMSGSIZE, WSAEOPNOTSUPP,
                        WSAETIMEDOUT,
                        WSAEWOULDBLOCK, WSAHOST_NOT_FOUND, WSANO_DATA, WSANO_RECOVERY, WSANOTINITIALISED,
                        WSASERVICE_NOT_FOUND, WSATRY_AGAIN)
from ws2.port import const, sleep_ms, ticks_add, ticks_diff, ticks_ms
from ws2.queryset import RESULT_IS_ALIAS, WSAQuerySet

_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_SOL_SOCKET = const(0xFFFF)
_SO_RCVTIMEO = const(0x1006)
_MSG_DONTWAIT = const(0x40)
_NS_DNS = const(12)
_LUP_CONTAINERS = const(0x2)
_LUP_RETURN_NAME = const(0x10)
_LUP_RETURN_ADDR = const(0x100)
_LUP_RETURN_BLOB = const(0x200)
_LUP_RETURN_ALIASES = const(0x400)
_LUP_FLUSHCACHE = const(0x1000)
_POLL_MS = const(8)
_UDP_MAX = const(512)  # no EDNS: a bigger answer comes back TC and is fetched over TCP
_CACHE_ENTRIES = const(32)
_CACHE_BYTES = const(4096)  # the board budget for cached answers, counted roughly (text + overhead)
_MAX_TTL = const(86400)
_MAX_NEG_TTL = const(300)
_MAX_HOPS = const(8)  # CNAME links followed per name
_NSP_CLEANUP = const(0)
_NSP_LOOKUPSERVICEBEGIN = const(1)
_NSP_LOOKUPSERVICENEXT = const(2)
_NSP_LOOKUPSERVICEEND = const(3)
_NSP_IOCTL = const(8)
_NSP_TABLE_SIZE = const(9)
_SIO_NSP_CACHED = const(0x58000010)  # ws2's own NSPIoctl code: the router asks for cached() (ws2/nsrouter)

# svcguid.h classes nspm serves (upper case, as compared)
_HOSTNAME = "{0002A800-0000-0000-C000-000000000046}"
_BYINETSTRING = "{0002A801-0000-0000-C000-000000000046}"
_BYNAME = "{0002A803-0000-0000-C000-000000000046}"
_TYPE_A = "{00090035-0000-0001-C000-000000000046}"
_TYPE_PTR = "{00090035-0000-000C-C000-000000000046}"
_TYPE_AAAA = "{00090035-0000-001C-C000-000000000046}"

_starts = 0
_provider_id = None
_cache = {}  # (name, qtype) -> (expires_ms, size, error_code, canonical, aliases, values)
_cache_bytes = 0
_recv_mode = [0]  # 0: SO_RCVTIMEO works; 1: poll with MSG_DONTWAIT (router without socket timeouts)


# -- random numbers -------------------------------------------------------------

def _rand16():
    try:
        from os import urandom

        b = urandom(2)
        return b[0] << 8 | b[1]
    except (ImportError, NotImplementedError, OSError):
        import random

        return random.getrandbits(16)


# -- the cache ----------------------------------------------------------------------

def cache_get(key):
    """Return the live cache entry of key (dropping it when expired), or None."""
    e = _cache.get(key)
    if e is None:
        return None
    if ticks_diff(e[0], ticks_ms()) <= 0:
        _cache_drop(key)
        return None
    return e


def _cache_drop(key):
    global _cache_bytes
    e = _cache.pop(key, None)
    if e is not None:
        _cache_bytes -= e[1]


def cache_put(key, ttl, code, canon, aliases, values):
    """Cache an answer (code 0) or a failure for ttl seconds, evicting to stay within budget."""
    global _cache_bytes
    if ttl <= 0:
        return
    size = 48 + len(key[0]) + len(canon)
    for v in aliases:
        size += 16 + len(v)
    for v in values:
        size += 16 + len(v)
    if size > _CACHE_BYTES:
        return
    _cache_drop(key)
    now = ticks_ms()
    while _cache and (len(_cache) >= _CACHE_ENTRIES or _cache_bytes + size > _CACHE_BYTES):
        # drop the expired, else the entry closest to expiry
        victim = None
        best = 0
        for k in _cache:
            left = ticks_diff(_cache[k][0], now)
            if victim is None or left < best:
                victim = k
                best = left
        _cache_drop(victim)
    _cache[key] = (ticks_add(now, min(ttl, _MAX_TTL) * 1000), size, code, canon, tuple(aliases), tuple(values))
    _cache_bytes += size


def cache_clear():
    """Forget every cached answer."""
    global _cache_bytes
    _cache.clear()
    _cache_bytes = 0


def cache_stats():
    """Return (entries, bytes) held by the cache."""
    return len(_cache), _cache_bytes


# -- the wire ---------------------------------------------------------------------------

def _arm(ws2, s, left):
    # Winsock's SO_RCVTIMEO (ms) where the router has it; else poll with MSG_DONTWAIT
    if not _recv_mode[0]:
        try:
            ws2.setsockopt(s, _SOL_SOCKET, _SO_RCVTIMEO, left)
        except WSAError:
            _recv_mode[0] = 1


def _recv(ws2, socks, n, until):
    """Wait for data on any of socks [(key, s)]: (key, data), (key, WSAError) or None at the deadline.

    Blocking mode waits on the last socket only (the server asked last); poll
    mode also hears a late answer from a server asked before.
    """
    nap = 1  # polling: short naps first, an answer on a LAN takes a millisecond or two
    while True:
        left = ticks_diff(until, ticks_ms())
        if left <= 0:
            return None
        _arm(ws2, socks[-1][1], left)
        for k, s in (socks if _recv_mode[0] else socks[-1:]):
            try:
                return k, (ws2.recv(s, n, _MSG_DONTWAIT) if _recv_mode[0] else ws2.recv(s, n))
            except WSAError as e:
                code = e.args[0]
                if code == WSAETIMEDOUT:
                    return None
                if code == WSAEMSGSIZE:
                    continue  # an oversized datagram (no EDNS here): dropped by the stack, keep listening
                if code != WSAEWOULDBLOCK:
                    return k, e
        sleep_ms(min(nap, left))
        if nap < _POLL_MS:
            nap *= 2


def _valid(data, txid, name, qtype):
    """Return the parsed reply when it answers our question, else None (dropped)."""
    try:
        r = dnsmsg.parse(data)
    except dnsmsg.DNSError:
        return None
    if r[0] != txid:
        return None
    if r[2] is None:  # a TC reply without its question: only good for retrying over TCP
        return r if dnsmsg.truncated(r[1]) else None
    if r[3] != qtype or r[2].lower() != name:
        return None
    return r


def _sockaddr(server):
    return (server[0], server[1]) if ":" not in server[0] else (server[0], server[1], 0, 0)


def _tcp(ws2, server, query, txid, name, qtype, until):
    """Ask server over TCP (after a TC answer); return the parsed reply or None."""
    af = _AF_INET6 if ":" in server[0] else _AF_INET
    s = ws2.socket(af, _SOCK_STREAM, _IPPROTO_TCP)
    try:
        ws2.connect(s, _sockaddr(server))
        ws2.send(s, bytes((len(query) >> 8, len(query) & 0xFF)) + query)
        buf = b""
        need = 2
        while len(buf) < need:
            got = _recv(ws2, [(0, s)], need - len(buf), until)
            if got is None or not isinstance(got[1], bytes) or not got[1]:
                return None
            buf += got[1]
            if need == 2 and len(buf) >= 2:
                need = 2 + (buf[0] << 8 | buf[1])
        r = _valid(buf[2:], txid, name, qtype)
        return r if r is not None and r[2] is not None else None  # a full answer this time
    except WSAError:
        return None
    finally:
        ws2.closesocket(s)


def _udp(ws2, server):
    # A connected socket per server: the stack itself drops datagrams from any
    # other address or port, ICMP "port unreachable" comes back as an error on
    # it, and recv(512) never needs a 64 KB buffer to learn the sender.
    af = _AF_INET6 if ":" in server[0] else _AF_INET
    s = ws2.socket(af, _SOCK_DGRAM, _IPPROTO_UDP)
    try:
        wild = "0.0.0.0" if af == _AF_INET else "::"
        for _ in range(4):  # a random source port, so an off-path forger must guess it too
            try:
                port = 1024 + _rand16() % 64511
                ws2.bind(s, (wild, port) if af == _AF_INET else (wild, port, 0, 0))
                break
            except WSAError:
                pass  # taken: another pick; after four, the stack chooses
        ws2.connect(s, _sockaddr(server))
    except BaseException:
        ws2.closesocket(s)
        raise
    return s


def exchange(name, qtype, servers, timeout_ms):
    """Ask servers for (name, qtype) within timeout_ms; return the parsed reply or raise WSAError."""
    import ws2
    from providers import dnsretry  # (on the first query: importing nspm costs no RAM for it)

    txid = _rand16()
    try:
        query = dnsmsg.build_query(txid, name, qtype)
    except dnsmsg.DNSError as e:
        raise WSAError(WSAHOST_NOT_FOUND, "%r is not a valid DNS name: %s" % (name, e))
    servers = [(a[0], a[1]) for a in servers if inaddr.family(a[0])]
    if not servers:
        raise WSAError(WSANO_RECOVERY, "no DNS server has a numeric address")
    ws2.WSAStartup()
    socks = []  # [(server index, connected socket)], in the order asked
    try:
        start = ticks_ms()
        plan = dnsretry.Schedule(len(servers), timeout_ms)
        while True:
            now = ticks_diff(ticks_ms(), start)
            k = plan.server(now)
            if k < 0:
                break
            s = None
            for j, t in socks:
                if j == k:
                    s = t
            try:
                if s is None:
                    s = _udp(ws2, servers[k])
                    socks.append((k, s))
                ws2.send(s, query)
            except WSAError:
                plan.unreachable(k)  # no route to it, no socket for it: the next server
                continue
            until = ticks_add(ticks_ms(), plan.try_ms(now))
            got = None
            cands = [x for x in socks if x[0] in plan.live and x[0] != k] + [(k, s)]  # this try's socket last
            while got is None:
                r = _recv(ws2, cands, _UDP_MAX, until)
                if r is None:
                    break
                j, data = r
                if not isinstance(data, bytes):  # refused (ICMP) or broken: that server is out
                    plan.unreachable(j)
                    if j == k:
                        break
                    cands = [x for x in cands if x[0] != j]
                    continue
                got = _valid(data, txid, name, qtype)
                if got is not None:
                    k = j  # possibly a late answer from a server asked before
            if got is None:
                plan.no_answer(k)
                continue
            if dnsmsg.truncated(got[1]):
                got = _tcp(ws2, servers[k], query, txid, name, qtype, ticks_add(start, timeout_ms))
                if got is None:
                    plan.unreachable(k)
                    continue
            if plan.answer(k, dnsmsg.rcode(got[1])):
                return got
        if plan.live:
            raise WSAError(plan.failure(), "no DNS answer for %s within %d ms" % (name, timeout_ms))
        raise WSAError(plan.failure(), "every DNS server failed for %s" % name)
    finally:
        for _, s in socks:
            try:
                ws2.closesocket(s)
            except WSAError:
                pass
        ws2.WSACleanup()


# -- resolving ------------------------------------------------------------------------------

def _settings():
    from ws2 import settings

    return settings


def _hosts_lookup(name, qtype):
    hosts = _settings().get("hosts") or {}
    if qtype == dnsmsg.TYPE_PTR:
        for k in hosts:
            if inaddr.canonical(hosts[k]) == name:
                return k
        return None
    for k in hosts:
        if k.lower().rstrip(".") == name:
            v = hosts[k]
            if inaddr.family(v) == (_AF_INET6 if qtype == dnsmsg.TYPE_AAAA else _AF_INET):
                return v
            return ""  # known name, other family
    return None


def _follow(name, qtype, answers):
    """Follow CNAMEs from name: (canonical, aliases, values, min ttl, last name)."""
    target = name
    canon = name
    aliases = []
    ttl = _MAX_TTL
    values = []
    for _ in range(_MAX_HOPS):
        nxt = None
        for n, t, rttl, v in answers:
            if n.lower() != target:
                continue
            if t == qtype:
                values.append(v)
                canon = n
                ttl = min(ttl, rttl)
            elif t == dnsmsg.TYPE_CNAME and nxt is None:
                nxt = v
                ttl = min(ttl, rttl)
        if values or nxt is None:
            break
        aliases.append(target)
        target = canon = nxt.lower()
    return canon, aliases, values, ttl, target


def resolve(name, qtype, flush=False):
    """Return (canonical, aliases, values) for (name, qtype): hosts table, cache, DNS or the port's resolver."""
    name = name.lower().rstrip(".")
    if qtype != dnsmsg.TYPE_PTR:
        if name in ("", "localhost", "loopback"):  # as CE's nspm: answered here, never asked
            return name or "localhost", [], ["::1" if qtype == dnsmsg.TYPE_AAAA else "127.0.0.1"]
        af = inaddr.family(name)
        if af:  # a numeric name is its own address
            if af != (_AF_INET6 if qtype == dnsmsg.TYPE_AAAA else _AF_INET):
                raise WSAError(WSANO_DATA, "%s is an address of the other family" % name)
            return name, [], [inaddr.canonical(name)]
    elif name in ("127.0.0.1", "::1"):
        return "localhost", [], ["localhost"]
    h = _hosts_lookup(name, qtype)
    if h is not None:
        if not h:
            raise WSAError(WSANO_DATA, "%s has no address of that family in the hosts table" % name)
        return name, [], [h]
    key = (name, qtype)
    if flush:
        _cache_drop(key)
    e = cache_get(key)
    if e is not None:
        if e[2]:
            raise WSAError(e[2], "%s (cached)" % name)
        return e[3], list(e[4]), list(e[5])
    st = _settings()
    servers = st.get("dns_servers") or []
    if not servers:
        return port_resolve(name, qtype)
    timeout = st.get("dns_timeout_ms") or 2000
    qname = dnsmsg.reverse_name(name) if qtype == dnsmsg.TYPE_PTR else name
    if qname is None:
        raise WSAError(WSAHOST_NOT_FOUND, "%r is not a numeric address" % name)
    aliases = []
    ttl = _MAX_TTL
    for _ in range(4):  # a chain the server did not finish is asked again from where it stopped
        r = exchange(qname, qtype, servers, timeout)
        canon, more, values, t, last = _follow(qname, qtype, r[4])
        aliases += more
        ttl = min(ttl, t)
        if values or last == qname or dnsmsg.rcode(r[1]) != dnsmsg.RCODE_NOERROR:
            break
        qname = last
    if not values:
        code = WSAHOST_NOT_FOUND if dnsmsg.rcode(r[1]) == dnsmsg.RCODE_NXDOMAIN else WSANO_DATA
        if r[5] >= 0:  # negative caching only with the zone's SOA to say how long (RFC 2308)
            cache_put(key, min(r[5], _MAX_NEG_TTL), code, "", (), ())
        raise WSAError(code, name + (": no such name" if code == WSAHOST_NOT_FOUND else ": no record of that type"))
    if qtype == dnsmsg.TYPE_PTR:
        canon = name
    cache_put(key, ttl, 0, canon, aliases, values)
    return canon, aliases, values


# -- the port's own resolver ----------------------------------------------------------------------

def port_results(results, so):
    """Turn the port's getaddrinfo results (any port's format, docs/ports.md) into [(af, address)]."""
    out = []
    for r in results:
        sa = r[-1]
        if sa is None:
            continue  # esp32 reports IPv6 results without an address
        if isinstance(sa, tuple):
            host = sa[0]
        else:  # unix MicroPython: raw struct sockaddr
            t = so.sockaddr(sa)
            host = so.inet_ntop(t[0], t[1])
        if not isinstance(host, str):
            continue
        # rp2 says AF_INET even for an IPv6 address: trust the text, not the family field
        item = (_AF_INET6 if ":" in host else _AF_INET, inaddr.canonical(host) or host)
        if item not in out:
            out.append(item)
    return out


def port_error(e):
    """Map a port resolver failure (int, negative EAI/lwIP code, or unix's text) to a WSA code."""
    a = e.args[0] if getattr(e, "args", None) else None
    if isinstance(a, str):  # unix MicroPython: "[addrinfo error -2]"
        i = a.find("error ")
        try:
            a = int(a[i + 6 :].rstrip("]")) if i >= 0 else None
        except ValueError:
            a = None
    if a in (-2, -5, -200, -202, -8):
        return WSAHOST_NOT_FOUND  # EAI_NONAME/NODATA (glibc, lwIP), esp32's EAI_FAIL for a failed lookup
    if a == -3:
        return WSATRY_AGAIN  # glibc EAI_AGAIN; rp2 lwIP ERR_TIMEOUT
    return WSANO_RECOVERY


def port_resolve(name, qtype):
    """Resolve through the port's socket.getaddrinfo (no server configured): (canonical, [], values)."""
    from ws2.native import socket as so  # the port's resolver, even after ws2.compat.install()

    if qtype == dnsmsg.TYPE_PTR:
        f = getattr(so, "gethostbyaddr", None)  # CPython only; lwIP has no reverse lookup
        try:
            if f is None:
                raise OSError(-2)
            return name, [], [f(name)[0]]
        except OSError as e:
            raise WSAError(port_error(e), "the port resolver has no name for %s" % name)
    try:
        res = so.getaddrinfo(name, 0)
    except OSError as e:
        raise WSAError(port_error(e), "the port resolver failed for %s: %r" % (name, e))
    af = _AF_INET6 if qtype == dnsmsg.TYPE_AAAA else _AF_INET
    values = [a for f, a in port_results(res, so) if f == af]
    if not values:
        raise WSAError(WSANO_DATA, "the port resolver has no address of that family for %s" % name)
    return name, [], values


# -- NSP routines ------------------------------------------------------------------------------------

def _classify(query):
    """Return (reverse?, [qtypes]) for the query's service class; raise when nspm does not serve it."""
    cls = str(query.service_class_id).upper()
    if cls == _BYINETSTRING or cls == _TYPE_PTR:
        return True, [dnsmsg.TYPE_PTR]
    if cls == _TYPE_A:
        return False, [dnsmsg.TYPE_A]
    if cls == _TYPE_AAAA:
        return False, [dnsmsg.TYPE_AAAA]
    if cls == _HOSTNAME or cls == _BYNAME:
        afp = query.afp_protocols
        if not afp:
            return False, [dnsmsg.TYPE_A]  # CE's nspm: IPv4 unless IPv6 is asked for
        out = []
        for p in afp:
            for t in ((dnsmsg.TYPE_A, dnsmsg.TYPE_AAAA) if p[0] == 0 else (
                    dnsmsg.TYPE_A,) if p[0] == _AF_INET else (dnsmsg.TYPE_AAAA,) if p[0] == _AF_INET6 else ()):
                if t not in out:
                    out.append(t)
        if not out:
            raise WSAError(WSAEINVAL, "afp_protocols names no IP family")
        return False, out
    raise WSAError(WSASERVICE_NOT_FOUND, "nspm does not serve class %s" % cls)


def _result(query, flags, name, addrs, aliases):
    csa = None
    if flags & _LUP_RETURN_ADDR:
        csa = []
        for a in addrs:
            if ":" in a:
                csa.append((("::", 0, 0, 0), (a, 0, 0, 0), 0, 0))
            else:
                csa.append((("0.0.0.0", 0), (a, 0), 0, 0))
    blob = None
    if flags & _LUP_RETURN_BLOB and addrs:
        v6 = ":" in addrs[0]
        blob = (name, list(aliases), _AF_INET6 if v6 else _AF_INET, [a for a in addrs if (":" in a) == v6])
    return WSAQuerySet(service_instance_name=name if flags & _LUP_RETURN_NAME else None,
                       service_class_id=query.service_class_id, name_space=_NS_DNS, ns_provider_id=_provider_id,
                       csa_buffer=csa, blob=blob)


def NSPLookupServiceBegin(provider_id, query, class_info, flags):
    """Resolve the query (hosts, cache, DNS); returns the lookup handle holding its results."""
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    if flags & _LUP_CONTAINERS:
        raise WSAError(WSANO_DATA, "DNS has no containers")
    if query.context not in (None, "", "\\"):
        raise WSAError(WSANO_DATA, "nspm knows only the default context")
    reverse, qtypes = _classify(query)
    name = query.service_instance_name or ""
    if not isinstance(name, str):
        raise WSAError(WSAEINVAL, "service_instance_name must be a str")
    flush = bool(flags & _LUP_FLUSHCACHE)
    if reverse:
        if not inaddr.family(name):
            raise WSAError(WSAEINVAL, "%r is not a numeric address" % name)
        addr = inaddr.canonical(name)
        canon, aliases, names = resolve(addr, dnsmsg.TYPE_PTR, flush)
        return [[_result(query, flags, names[0], [addr], names[1:])], 0]
    canon = None
    aliases = []
    addrs = []
    err = None
    for t in qtypes:
        try:
            c, al, vals = resolve(name, t, flush)
        except WSAError as e:
            if e.args[0] in (WSAHOST_NOT_FOUND, WSATRY_AGAIN):
                raise  # the name does not exist / the servers are down: asking again cannot help
            err = e
            continue
        if canon is None or not addrs:
            canon = c
        for a in al:
            if a not in aliases:
                aliases.append(a)
        addrs += [v for v in vals if v not in addrs]
    if not addrs:
        raise err or WSAError(WSANO_DATA, "%s has no address" % name)
    out = [_result(query, flags, canon, addrs, aliases)]
    if flags & _LUP_RETURN_ALIASES:
        for a in aliases:
            out.append(WSAQuerySet(service_instance_name=a, service_class_id=query.service_class_id,
                                   name_space=_NS_DNS, ns_provider_id=_provider_id, output_flags=RESULT_IS_ALIAS))
    return [out, 0]


def NSPLookupServiceNext(handle, flags):
    """Return the next result of a lookup; WSA_E_NO_MORE after the last."""
    if not isinstance(handle, list) or handle[0] is None:
        raise WSAError(WSA_INVALID_HANDLE)
    if handle[1] >= len(handle[0]):
        raise WSAError(WSA_E_NO_MORE)
    handle[1] += 1
    return handle[0][handle[1] - 1]


def NSPLookupServiceEnd(handle):
    """Free a lookup."""
    if not isinstance(handle, list) or handle[0] is None:
        raise WSAError(WSA_INVALID_HANDLE)
    handle[0] = None
    return 0


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP, "nspm does not register services or classes")


def cached(name, af):
    """The live cached addresses of name for af (AF_INET/AF_INET6) when resolve would answer them, else None."""
    qtype = dnsmsg.TYPE_AAAA if af == _AF_INET6 else dnsmsg.TYPE_A
    e = _cache.get((name, qtype))
    if e is None:
        name = name.lower().rstrip(".")  # resolve's key; looked up second, the name usually comes as is
        e = _cache.get((name, qtype))
        if e is None:
            return None
    if e[2] or ticks_diff(e[0], ticks_ms()) <= 0:
        return None  # a cached failure (resolve reports it) or expired (resolve drops it)
    if _settings().get("hosts") and _hosts_lookup(name.lower().rstrip("."), qtype) is not None:
        return None  # the hosts table comes first
    return e[5]


def NSPIoctl(handle, code, in_data, completion, thread_id):
    """Only ws2's own SIO_NSP_CACHED: returns cached(), the cache-only lookup getaddrinfo tries first."""
    if code == _SIO_NSP_CACHED:
        return cached
    raise WSAError(WSAEOPNOTSUPP, "nspm has no ioctl 0x%x" % (code,))


def NSPCleanup(provider_id):
    """Drop one NSPStartup reference; the last one empties the cache."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    if provider_id != _provider_id:
        raise WSAError(WSAEINVAL, "NSPCleanup for provider %s, not nspm's %s" % (provider_id, _provider_id))
    _starts -= 1
    if not _starts:
        cache_clear()
    return 0


def _routines():
    # The NSP_ROUTINE table by slot name: private copies of ws2.spiconst's names (checked against it by
    # host_tests/unit/test_const_homes.py), so resolving a name does not keep spiconst in RAM.
    t = [_unsupported] * _NSP_TABLE_SIZE
    t[_NSP_CLEANUP] = NSPCleanup
    t[_NSP_LOOKUPSERVICEBEGIN] = NSPLookupServiceBegin
    t[_NSP_LOOKUPSERVICENEXT] = NSPLookupServiceNext
    t[_NSP_LOOKUPSERVICEEND] = NSPLookupServiceEnd
    t[_NSP_IOCTL] = NSPIoctl
    return tuple(t)


def NSPStartup(provider_id):
    """Provider entry point: returns the NSP routine table (NSP_ROUTINE order)."""
    global _starts, _provider_id
    _provider_id = provider_id
    _starts += 1
    return _routines()
