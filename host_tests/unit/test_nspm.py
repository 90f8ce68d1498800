# providers/nspm on CPython: cache bounds, the port-resolver formats and errors, the routine table.
# MIT licence; part of ws2 for MicroPython.
import socket
import time

import pytest

from ws2 import WSAError


@pytest.fixture
def nspm(tmp_path, monkeypatch):
    monkeypatch.setenv("WS2_ROOT", str(tmp_path))
    from providers import nspm

    nspm.cache_clear()
    yield nspm
    nspm.cache_clear()


def test_routine_table_shape(nspm):
    from ws2.nsprovider import validate_routines

    pid = "{3C8441D3-B4F9-4EA0-8974-F4C349665191}"
    r = validate_routines(nspm.NSPStartup(pid))
    try:
        assert r[0] is nspm.NSPCleanup and r[1] is nspm.NSPLookupServiceBegin
        with pytest.raises(WSAError) as e:
            r[4](pid, None, None, 0, 0)  # NSPSetService
        assert e.value.errno == 10045
        with pytest.raises(WSAError) as e:
            r[0]("{00000000-0000-0000-0000-000000000000}")  # a foreign GUID
        assert e.value.errno == 10022
    finally:
        r[0](pid)
    with pytest.raises(WSAError) as e:
        r[0](pid)
    assert e.value.errno == 10093  # WSANOTINITIALISED after the last cleanup


def test_cache_bounded_in_entries(nspm):
    for i in range(100):
        nspm.cache_put(("h%d.example" % i, 1), 60 + i, 0, "h%d.example" % i, [], ["10.0.0.%d" % i])
    n, size = nspm.cache_stats()
    assert n == nspm._CACHE_ENTRIES and size <= nspm._CACHE_BYTES
    # the entries closest to expiry went first: the newest (longest TTL) stayed
    assert nspm.cache_get(("h99.example", 1)) is not None and nspm.cache_get(("h0.example", 1)) is None


def test_cache_bounded_in_bytes(nspm):
    big = ["2001:db8::%x" % i for i in range(30)]
    for i in range(20):
        nspm.cache_put(("big%d.example" % i, 28), 300, 0, "big%d.example" % i, [], big)
    n, size = nspm.cache_stats()
    assert size <= nspm._CACHE_BYTES and n < 20
    too_big = ["x" * 200] * 40  # one answer over the whole budget is not cached at all
    nspm.cache_put(("huge.example", 1), 300, 0, "huge.example", [], too_big)
    assert nspm.cache_get(("huge.example", 1)) is None


def test_cache_expiry_and_zero_ttl(nspm):
    nspm.cache_put(("zero.example", 1), 0, 0, "zero.example", [], ["10.0.0.1"])
    assert nspm.cache_get(("zero.example", 1)) is None
    nspm.cache_put(("one.example", 1), 1, 0, "one.example", [], ["10.0.0.1"])
    assert nspm.cache_get(("one.example", 1)) is not None
    time.sleep(1.05)
    assert nspm.cache_get(("one.example", 1)) is None and nspm.cache_stats() == (0, 0)


class FakeUnixSocket:
    """The unix port's raw-sockaddr shape, decoded with CPython's own helpers."""

    AF_INET = socket.AF_INET
    AF_INET6 = socket.AF_INET6

    @staticmethod
    def sockaddr(b):
        fam = int.from_bytes(b[:2], "little")
        if fam == socket.AF_INET:
            return (fam, bytes(b[4:8]), int.from_bytes(b[2:4], "big"))
        return (fam, bytes(b[8:24]), int.from_bytes(b[2:4], "big"), 0, 0)

    inet_ntop = staticmethod(socket.inet_ntop)


def _raw4(ip, port):
    return bytearray(socket.AF_INET.to_bytes(2, "little") + port.to_bytes(2, "big") + socket.inet_aton(ip) + bytes(8))


def _raw6(ip, port):
    return bytearray(socket.AF_INET6.to_bytes(2, "little") + port.to_bytes(2, "big") + bytes(4)
                     + socket.inet_pton(socket.AF_INET6, ip) + bytes(4))


@pytest.mark.parametrize("port,results,want", [
    ("esp32", [(2, 1, 0, "", ("192.0.2.1", 0)), (10, 1, 0, "", None)], [(2, "192.0.2.1")]),
    ("rp2", [(2, 1, 0, "", ("2001:DB8::1", 0))], [(23, "2001:db8::1")]),  # rp2 says AF_INET for IPv6 too
    ("unix", [(2, 1, 6, None, _raw4("192.0.2.9", 0)), (10, 1, 6, None, _raw6("2001:db8::9", 0)),
              (2, 2, 17, None, _raw4("192.0.2.9", 0))], [(2, "192.0.2.9"), (23, "2001:db8::9")]),
    ("cpython", socket.getaddrinfo("127.0.0.1", 0), [(2, "127.0.0.1")]),
])
def test_port_results_every_format(nspm, port, results, want):
    assert nspm.port_results(results, FakeUnixSocket) == want


@pytest.mark.parametrize("exc,code", [
    (OSError(-2), 11001), (OSError(-200), 11001), (OSError(-202), 11001), (OSError(-3), 11002),
    (OSError("[addrinfo error -2]"), 11001), (OSError("[addrinfo error -3]"), 11002),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), 11001),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), 11002),
    (OSError(-16), 11003), (OSError("weird"), 11003),
])
def test_port_error_mapping(nspm, exc, code):
    assert nspm.port_error(exc) == code


def test_port_resolve_uses_the_port_getaddrinfo(nspm, monkeypatch):
    calls = []

    def fake(host, port, *a):
        calls.append((host, port, a))
        return [(2, 1, 0, "", ("192.0.2.55", 0))]  # esp32 / rp2 shape

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert nspm.port_resolve("printer.lan", 1) == ("printer.lan", [], ["192.0.2.55"])
    assert calls == [("printer.lan", 0, ())]  # no constraint arguments: rp2 warns about them
    with pytest.raises(WSAError) as e:
        nspm.port_resolve("printer.lan", 28)
    assert e.value.errno == 11004

    def fails(*a):
        raise socket.gaierror(socket.EAI_NONAME, "no")

    monkeypatch.setattr(socket, "getaddrinfo", fails)
    with pytest.raises(WSAError) as e:
        nspm.port_resolve("nothing.lan", 1)
    assert e.value.errno == 11001


def test_classify(nspm):
    from ws2.queryset import (SVCID_DNS_TYPE_AAAA, SVCID_HOSTNAME, SVCID_INET_HOSTADDRBYINETSTRING,
                              SVCID_INET_SERVICEBYNAME, WSAQuerySet)

    def c(cls, afp=None):
        return nspm._classify(WSAQuerySet(service_class_id=cls, afp_protocols=afp))

    assert c(SVCID_HOSTNAME) == (False, [1])
    assert c(SVCID_HOSTNAME.lower(), [(23, 0), (2, 0)]) == (False, [28, 1])
    assert c(SVCID_HOSTNAME, [(0, 0)]) == (False, [1, 28])
    assert c(SVCID_DNS_TYPE_AAAA) == (False, [28])
    assert c(SVCID_INET_HOSTADDRBYINETSTRING) == (True, [12])
    with pytest.raises(WSAError) as e:
        c(SVCID_INET_SERVICEBYNAME)
    assert e.value.errno == 10108
    with pytest.raises(WSAError) as e:
        c(SVCID_HOSTNAME, [(6, 0)])
    assert e.value.errno == 10022


def test_cache_hit_is_much_faster_than_a_query(dns_servers, tmp_path, monkeypatch):
    monkeypatch.setenv("WS2_ROOT", str(tmp_path))
    import ws2
    from ws2 import settings

    settings.forget()
    ws2.WSAStartup()
    try:
        ws2.config(dns_servers=[("127.0.0.1", dns_servers["ok"].port)])
        ws2.gethostbyname("a.ws2.test")  # load the provider first: time the network, not imports
        before = dns_servers["ok"].count("cached.ws2.test")
        t0 = time.perf_counter()
        ws2.gethostbyname("cached.ws2.test")
        t1 = time.perf_counter()
        for _ in range(100):
            ws2.gethostbyname("cached.ws2.test")
        t2 = time.perf_counter()
        assert dns_servers["ok"].count("cached.ws2.test") == before + 1
        miss, hit = (t1 - t0) * 1e6, (t2 - t1) / 100 * 1e6
        print("nspm on CPython: miss %.0f us, hit %.0f us" % (miss, hit))
        assert hit * 5 < miss
    finally:
        ws2.config(dns_servers=[])
        ws2.WSACleanup()
