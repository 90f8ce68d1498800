# Device tests: getaddrinfo / getnameinfo / gethostbyname edge cases (Winsock semantics, catalog-driven).
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import err, ticks_diff, ticks_ms

ENV = ("dns_server",)

# Every test here talks to the host's servers: the emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": "no network on the emulated board"}


def _start(env):
    # a silent DNS server: any test that reaches the network would fail slowly and say so
    ws2.WSAStartup(0x0202)
    ws2.config(dns_servers=[(env.dns_ip, env.dns_blackhole_port)], dns_timeout_ms=3000, hosts={})


def _stop():
    try:
        ws2.config(dns_servers=[], dns_timeout_ms=2000)
    finally:
        ws2.WSACleanup()


def _kinds():
    """(af, type, proto) of the visible catalog, one per kind, in catalog order (what type 0 expands to)."""
    out = []
    for p in ws2.WSAEnumProtocols():
        k = (p.address_family, p.socket_type, p.protocol)
        if p.protocol_chain and k[0] in (2, 23) and k not in out:
            out.append(k)
    return out


def test_not_started():
    err(ws2.WSANOTINITIALISED, ws2.getaddrinfo, "127.0.0.1", 80)
    err(ws2.WSANOTINITIALISED, ws2.getnameinfo, ("127.0.0.1", 80))
    err(ws2.WSANOTINITIALISED, ws2.gethostbyname, "localhost")


def test_passive_none_host_is_the_wildcard(env):
    _start(env)
    try:
        got = ws2.getaddrinfo(None, 8080, 0, 0, 0, ws2.AI_PASSIVE)
        want = []
        for af, t, p in _kinds():
            want.append((af, t, p, "", ("0.0.0.0", 8080) if af == 2 else ("::", 8080, 0, 0)))
        # one result per catalog socket type, addresses in the catalog's family order
        assert sorted(got) == sorted(want) and got[0][0] == _kinds()[0][0], got
        assert ws2.getaddrinfo(None, 53, ws2.AF_INET, ws2.SOCK_DGRAM, 0, ws2.AI_PASSIVE) == [
            (2, 2, 17, "", ("0.0.0.0", 53))]
        # without AI_PASSIVE: loopback
        assert ws2.getaddrinfo(None, 7, ws2.AF_INET, ws2.SOCK_STREAM) == [(2, 1, 6, "", ("127.0.0.1", 7))]
        assert ws2.getaddrinfo("", 7, ws2.AF_INET, ws2.SOCK_STREAM) == [(2, 1, 6, "", ("127.0.0.1", 7))]
    finally:
        _stop()


def test_numeric_hosts_never_touch_the_network(env):
    _start(env)
    try:
        t = ticks_ms()
        got = ws2.getaddrinfo("192.0.2.5", 80, 0, ws2.SOCK_STREAM)
        assert got == [(2, 1, 6, "", ("192.0.2.5", 80))]
        err(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, "printer.lan", 80, 0, 0, 0, ws2.AI_NUMERICHOST)
        err(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, "192.0.2.5", 80, ws2.AF_INET6)  # family mismatch
        got = ws2.getaddrinfo("192.0.2.5", 80, ws2.AF_INET, ws2.SOCK_STREAM, 0, ws2.AI_NUMERICHOST | ws2.AI_CANONNAME)
        assert got == [(2, 1, 6, "192.0.2.5", ("192.0.2.5", 80))]
        if 23 in [k[0] for k in _kinds()]:
            got = ws2.getaddrinfo("FE80:0::1%3", 80, 0, ws2.SOCK_STREAM)
            assert got == [(23, 1, 6, "", ("fe80::1", 80, 0, 3))], got
        else:
            err(ws2.WSAEAFNOSUPPORT, ws2.getaddrinfo, "fe80::1", 80)
        assert ticks_diff(ticks_ms(), t) < 500, "a numeric lookup waited for the (silent) DNS server"
    finally:
        _stop()


def test_numeric_answers_are_fresh_lists_and_follow_the_catalog(env):
    ws2.WSAStartup(0x0202)
    try:
        first = ws2.getaddrinfo("127.0.0.1", 80)
        assert (2, 1, 6, "", ("127.0.0.1", 80)) in first and (2, 2, 17, "", ("127.0.0.1", 80)) in first
        first.clear()  # the caller's to change
        again = ws2.getaddrinfo("127.0.0.1", 80)
        assert again and again == ws2.getaddrinfo("127.0.0.1", 80)
        # A changed catalog order: the same question gets the new catalog's answer (UDP first).
        assert again[0][1] == ws2.SOCK_STREAM
        ids = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
        ids.remove(1002)
        ws2.WSCWriteProviderOrder([1002] + ids)
        assert ws2.getaddrinfo("127.0.0.1", 80)[0] == (2, 2, 17, "", ("127.0.0.1", 80))
        try:
            ws2.getaddrinfo("127.0.0.1", 80, True)
            raise AssertionError("a bool family was taken")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEINVAL
    finally:
        ws2.WSACleanup()
        ws2.catalog.reset()


def test_canonname_only_on_the_first_result(env):
    _start(env)
    try:
        got = ws2.getaddrinfo("127.0.0.1", 80, ws2.AF_INET, 0, 0, ws2.AI_CANONNAME)
        assert [r[3] for r in got] == ["127.0.0.1"] + [""] * (len(got) - 1)
        err(ws2.WSAEINVAL, ws2.getaddrinfo, None, 80, 0, 0, 0, ws2.AI_CANONNAME)
    finally:
        _stop()


def test_services(env):
    _start(env)
    try:
        def port(p, flags=0):
            return ws2.getaddrinfo("127.0.0.1", p, ws2.AF_INET, ws2.SOCK_STREAM, 0, flags)[0][4][1]

        assert port("8080") == 8080 and port(b"443") == 443 and port(None) == 0 and port(0) == 0
        assert port("http") == 80 and port("HTTPS") == 443 and port("mqtt") == 1883
        err(ws2.WSATYPE_NOT_FOUND, port, "no-such-service")
        err(ws2.WSATYPE_NOT_FOUND, port, 70000)
        err(ws2.WSATYPE_NOT_FOUND, port, "65536")
        err(ws2.WSAHOST_NOT_FOUND, port, "http", ws2.AI_NUMERICSERV)
        err(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, None, None)
    finally:
        _stop()


def test_family_type_and_protocol_filters(env):
    _start(env)
    try:
        kinds = _kinds()
        got = ws2.getaddrinfo("127.0.0.1", 1)
        assert [r[:3] for r in got] == [k for k in kinds if k[0] == 2]  # type 0: one per catalog type
        assert ws2.AF_INET == 2 and ws2.AF_INET6 == 23 and got[0][0] == 2
        assert [r[:3] for r in ws2.getaddrinfo("127.0.0.1", 1, 0, ws2.SOCK_DGRAM)] == [(2, 2, 17)]
        assert [r[:3] for r in ws2.getaddrinfo("127.0.0.1", 1, 0, 0, ws2.IPPROTO_UDP)] == [(2, 2, 17)]
        err(ws2.WSAEAFNOSUPPORT, ws2.getaddrinfo, "127.0.0.1", 1, 99)
        err(ws2.WSAESOCKTNOSUPPORT, ws2.getaddrinfo, "127.0.0.1", 1, 0, ws2.SOCK_RAW)
        err(ws2.WSAEPROTONOSUPPORT, ws2.getaddrinfo, "127.0.0.1", 1, 0, ws2.SOCK_STREAM, ws2.IPPROTO_UDP)
        err(ws2.WSAEINVAL, ws2.getaddrinfo, "127.0.0.1", 1, 0, 0, 0, 0x10000)  # unknown flag
        err(ws2.WSAEINVAL, ws2.getaddrinfo, 5, 1)
    finally:
        _stop()


def test_names_go_to_the_namespace_providers(env):
    ws2.WSAStartup(0x0202)
    ws2.config(dns_servers=[(env.dns_ip, env.dns_port)], dns_timeout_ms=2000, hosts={})
    try:
        got = ws2.getaddrinfo("www.ws2.test", 443, ws2.AF_INET, 0, 0, ws2.AI_CANONNAME)
        assert got[0][3] == "a.ws2.test" and all(r[4] == ("192.0.2.1", 443) for r in got)
        assert len(got) == len([k for k in _kinds() if k[0] == 2])
        err(ws2.WSANO_DATA, ws2.getaddrinfo, "v6only.ws2.test", 80, ws2.AF_INET)
    finally:
        _stop()


def test_getnameinfo_and_gethostbyname_numeric(env):
    _start(env)
    try:
        assert ws2.getnameinfo(("192.0.2.5", 80), ws2.NI_NUMERICHOST) == ("192.0.2.5", "http")
        assert ws2.getnameinfo(("192.0.2.5", 8883), ws2.NI_NUMERICHOST | ws2.NI_NUMERICSERV) == ("192.0.2.5", "8883")
        err(ws2.WSAEFAULT, ws2.getnameinfo, "192.0.2.5")
        err(ws2.WSAEFAULT, ws2.getnameinfo, ("192.0.2.5", 70000))
        err(ws2.WSAEAFNOSUPPORT, ws2.getnameinfo, ("printer.lan", 80))
        assert ws2.gethostbyname("192.0.2.5") == ("192.0.2.5", [], 2, ["192.0.2.5"])
        assert ws2.gethostbyname("localhost") == ("localhost", [], 2, ["127.0.0.1"])
        err(ws2.WSAEFAULT, ws2.gethostbyaddr, "printer.lan")
    finally:
        _stop()
