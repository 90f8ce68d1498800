# Bench: getaddrinfo: the port's resolver against ws2 (nspm without a server, i.e. through the port's
# resolver), nspm cold (a query to the host's DNS server) and nspm warm (its cache).
# MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py.
#
# The port resolver is asked for P["port_name"], a name it answers without the
# network (the host's name from /etc/hosts on the virtual board). nspm asks
# the host's dnslib server P["dns"] for P["dns_name"]. The settings changed
# here (dns_servers) are put back at the end.
start()
_N = P["dns_n"]
_NAME = P["dns_name"]
_PNAME = P["port_name"]
_old = ws2.config().get("dns_servers") or []


def port_raw():
    gai = socket.getaddrinfo
    name = _PNAME
    t = _us()
    for _ in range(_N):
        gai(name, 80)
    return _diff(_us(), t) / _N


def _gai_ws2(name):
    gai = ws2.getaddrinfo
    af = ws2.AF_INET
    st = ws2.SOCK_STREAM

    def run():
        t = _us()
        for _ in range(_N):
            gai(name, 80, af, st)
        return _diff(_us(), t) / _N

    return run


def numeric():
    # Raw and ws2 asked for the same numeric host: no resolver, no network on either side.
    gai = socket.getaddrinfo
    wgai = ws2.getaddrinfo
    af = ws2.AF_INET
    st = ws2.SOCK_STREAM
    n = _N * 50

    def raw():
        t = _us()
        for _ in range(n):
            gai("127.0.0.1", 80)
        return _diff(_us(), t) / n

    def mine():
        t = _us()
        for _ in range(n):
            wgai("127.0.0.1", 80, af, st)
        return _diff(_us(), t) / n

    pair("gai_numeric", lambda: raw, lambda: mine)


def _nspm():
    m = sys.modules.get("providers.nspm")
    if m is None or not hasattr(m, "cache_clear"):
        raise OSError("providers.nspm is not loaded after a lookup: cannot empty its cache")
    return m


def cold():
    gai = ws2.getaddrinfo
    af = ws2.AF_INET
    st = ws2.SOCK_STREAM
    nspm = _nspm()

    def run():
        total = 0
        for _ in range(_N):
            nspm.cache_clear()
            t = _us()
            gai(_NAME, 80, af, st)
            total += _diff(_us(), t)
        return total / _N

    run()
    return run


def warm():
    run = _gai_ws2(_NAME)
    ws2.getaddrinfo(_NAME, 80, ws2.AF_INET, ws2.SOCK_STREAM)  # fills the cache
    run()
    return run


def with_servers(servers, fid, make):
    runs = []
    attempt(fid, "raw", runs, lambda: port_raw)
    try:
        ws2.config(dns_servers=servers)
        attempt(fid, "ws2", runs, make)
        measure(fid, runs)
    except Exception as e:
        out("miss", fid, "ws2", why(e))


try:
    port_raw()  # warm-up
    numeric()
    with_servers([], "gai_port", lambda: _gai_ws2(_PNAME))
    if P["dns"] is None:
        for _fid in ("gai_cold", "gai_warm"):
            out("miss", _fid, "ws2", P["dns_missing"] or "no DNS server")
            measure(_fid, [("raw", port_raw)])
    else:
        ws2.config(dns_servers=[P["dns"]])
        ws2.getaddrinfo(_NAME, 80, ws2.AF_INET, ws2.SOCK_STREAM)  # nspm loaded, the server answers
        with_servers([P["dns"]], "gai_cold", cold)
        with_servers([P["dns"]], "gai_warm", warm)
    out("note", "gai_port", None, "name asked: %s" % _PNAME)
finally:
    ws2.config(dns_servers=_old)
    ws2.WSACleanup()
