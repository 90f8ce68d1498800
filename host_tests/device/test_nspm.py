# Device tests: nspm against real DNS servers on the host (host_tests/dns_fixtures.py).
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import time

import ws2
from devhelp import err, ticks_diff, ticks_ms

ENV = ("dns_server",)
TIMEOUT = 90

# Every test here talks to the host's servers: the emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": "no network on the emulated board"}


def _start(env, servers=None, timeout_ms=2000, hosts=None):
    ws2.WSAStartup(0x0202)
    if servers is None:
        servers = [(env.dns_ip, env.dns_port)]
    ws2.config(dns_servers=servers, dns_timeout_ms=timeout_ms, hosts=hosts or {})


def _stop():
    # settings live in flash: leave the board as the next test expects it
    try:
        ws2.config(dns_servers=[], dns_timeout_ms=2000, hosts={})
    finally:
        ws2.WSACleanup()


def _count(name):
    """Queries for name that reached the ok server, read over DNS (count.<name>, TTL 0, never cached)."""
    a = ws2.gethostbyname("count." + name)[3][0].split(".")
    return int(a[2]) * 256 + int(a[3])


def _lookup(name, cls, flags, ns=12, afp=None):
    q = ws2.WSAQuerySet(service_instance_name=name, service_class_id=cls, name_space=ns, afp_protocols=afp)
    h = ws2.WSALookupServiceBegin(q, flags)
    out = []
    try:
        while True:
            try:
                out.append(ws2.WSALookupServiceNext(h, flags))
            except ws2.WSAError as e:
                assert e.errno == ws2.WSA_E_NO_MORE, e
                break
    finally:
        ws2.WSALookupServiceEnd(h)
    return out


def test_a_record(env):
    _start(env)
    try:
        got = ws2.getaddrinfo("a.ws2.test", 80, ws2.AF_INET)
        assert got[0] == (2, 1, 6, "", ("192.0.2.1", 80)), got
        assert [r[4] for r in got] == [("192.0.2.1", 80)] * len(got)
        assert ws2.gethostbyname("multi.ws2.test") == ("multi.ws2.test", [], 2, ["192.0.2.10", "192.0.2.11"])
    finally:
        _stop()


def test_aaaa_record(env):
    _start(env)
    try:
        r = _lookup("a.ws2.test", ws2.SVCID_DNS_TYPE_AAAA, ws2.LUP_RETURN_ADDR | ws2.LUP_RETURN_NAME)
        assert len(r) == 1 and r[0].name_space == ws2.NS_DNS
        assert r[0].service_instance_name == "a.ws2.test"
        assert [c[1] for c in r[0].csa_buffer] == [("2001:db8::1", 0, 0, 0)]
        fams = [e.address_family for e in ws2.WSAEnumProtocols()]
        if ws2.AF_INET6 in fams:
            got = ws2.getaddrinfo("v6only.ws2.test", 443, ws2.AF_INET6, ws2.SOCK_STREAM)
            assert got == [(23, 1, 6, "", ("2001:db8::6", 443, 0, 0))], got
        else:  # esp32: no IPv6 in the catalog, so getaddrinfo cannot offer it
            err(ws2.WSAEAFNOSUPPORT, ws2.getaddrinfo, "v6only.ws2.test", 443, ws2.AF_INET6)
    finally:
        _stop()


def test_cname_chain(env):
    _start(env)
    try:
        assert ws2.gethostbyname("www.ws2.test") == ("a.ws2.test", ["www.ws2.test", "web.ws2.test"], 2, ["192.0.2.1"])
        got = ws2.getaddrinfo("www.ws2.test", "http", ws2.AF_INET, ws2.SOCK_STREAM, 0, ws2.AI_CANONNAME)
        assert got == [(2, 1, 6, "a.ws2.test", ("192.0.2.1", 80))], got
        # a server that stops half way: nspm asks again from the CNAME target
        assert ws2.gethostbyname("split.ws2.test")[:3] == ("multi.ws2.test", ["split.ws2.test"], 2)
        r = _lookup("www.ws2.test", ws2.SVCID_INET_HOSTADDRBYNAME, ws2.LUP_RETURN_NAME | ws2.LUP_RETURN_ALIASES)
        assert [(x.service_instance_name, x.output_flags) for x in r] == [
            ("a.ws2.test", 0), ("www.ws2.test", ws2.RESULT_IS_ALIAS), ("web.ws2.test", ws2.RESULT_IS_ALIAS)]
    finally:
        _stop()


def test_ptr(env):
    _start(env)
    try:
        assert ws2.gethostbyaddr("192.0.2.1") == ("a.ws2.test", [], 2, ["192.0.2.1"])
        assert ws2.getnameinfo(("2001:db8::1", 443, 0, 0)) == ("a.ws2.test", "https")
        assert ws2.getnameinfo(("192.0.2.1", 80), ws2.NI_NOFQDN | ws2.NI_NUMERICSERV) == ("a", "80")
        # no PTR record: the numeric form, unless a name is required
        assert ws2.getnameinfo(("192.0.2.99", 8080)) == ("192.0.2.99", "8080")
        err(ws2.WSAHOST_NOT_FOUND, ws2.getnameinfo, ("192.0.2.99", 1), ws2.NI_NAMEREQD)
        err(ws2.WSAHOST_NOT_FOUND, ws2.gethostbyaddr, "192.0.2.99")
    finally:
        _stop()


def test_nxdomain_and_nodata(env):
    _start(env)
    try:
        ws2.WSASetLastError(12345)
        err(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, "nothing.ws2.test", 80)
        err(ws2.WSAHOST_NOT_FOUND, ws2.gethostbyname, "nothing.ws2.test")
        err(ws2.WSANO_DATA, ws2.gethostbyname, "v6only.ws2.test")  # the name exists, no A record
        err(ws2.WSAHOST_NOT_FOUND, ws2.gethostbyname, "a" * 64 + ".ws2.test")  # not a valid DNS name
    finally:
        _stop()


def test_negative_answers_are_cached(env):
    _start(env)
    try:
        n = _count("neg.ws2.test")
        for _ in range(3):
            err(ws2.WSAHOST_NOT_FOUND, ws2.gethostbyname, "neg.ws2.test")
        assert _count("neg.ws2.test") == n + 1  # the SOA minimum (60 s) covers the next two
    finally:
        _stop()


def test_servfail_first_server_then_second(env):
    _start(env, [(env.dns_ip, env.dns_servfail_port), (env.dns_ip, env.dns_port)])
    try:
        assert ws2.gethostbyname("multi.ws2.test")[3] == ["192.0.2.10", "192.0.2.11"]
    finally:
        _stop()
    _start(env, [(env.dns_ip, env.dns_servfail_port)])
    try:
        err(ws2.WSATRY_AGAIN, ws2.gethostbyname, "multi.ws2.test")  # SERVFAIL everywhere: try later
    finally:
        _stop()


def test_silent_server_is_try_again_within_the_deadline(env):
    _start(env, [(env.dns_ip, env.dns_blackhole_port)], timeout_ms=600)
    try:
        t = ticks_ms()
        err(ws2.WSATRY_AGAIN, ws2.gethostbyname, "silent.ws2.test")
        took = ticks_diff(ticks_ms(), t)
        assert 550 <= took < 1500, took
    finally:
        _stop()


def test_silent_first_server_rotates_to_the_next(env):
    _start(env, [(env.dns_ip, env.dns_blackhole_port), (env.dns_ip, env.dns_port)], timeout_ms=3000)
    try:
        t = ticks_ms()
        assert ws2.gethostbyname("a.ws2.test")[3] == ["192.0.2.1"]
        assert ticks_diff(ticks_ms(), t) < 1500  # the first try's short wait, not the whole deadline
    finally:
        _stop()


def test_truncated_answer_is_retried_over_tcp(env):
    _start(env)
    try:
        n = _count("big.ws2.test")
        addrs = ws2.gethostbyname("big.ws2.test")[3]
        # 40 records do not fit 512 bytes: TC over UDP, then the full answer over TCP
        # (nspm keeps the first 32 of an answer: a board cannot hold thousands)
        assert len(addrs) == 32 and addrs[0] == "198.51.100.1", addrs
        assert _count("big.ws2.test") == n + 2
    finally:
        _stop()


def test_cache_hit_sends_no_packet(env):
    _start(env)
    try:
        n = _count("cached.ws2.test")
        t = ticks_ms()
        assert ws2.gethostbyname("cached.ws2.test")[3] == ["192.0.2.4"]
        miss = ticks_diff(ticks_ms(), t)
        t = ticks_ms()
        for _ in range(10):
            assert ws2.gethostbyname("cached.ws2.test")[3] == ["192.0.2.4"]
        hit = ticks_diff(ticks_ms(), t) / 10
        assert _count("cached.ws2.test") == n + 1, "a cached answer went to the server"
        print("nspm: miss %d ms, hit %.1f ms" % (miss, hit))
    finally:
        _stop()


def test_ttl_expiry(env):
    _start(env)
    try:
        n = _count("short.ws2.test")
        ws2.gethostbyname("short.ws2.test")  # TTL 1 s
        ws2.gethostbyname("short.ws2.test")
        assert _count("short.ws2.test") == n + 1
        time.sleep(1.3)
        ws2.gethostbyname("short.ws2.test")
        assert _count("short.ws2.test") == n + 2
    finally:
        _stop()


def test_getaddrinfo_answers_from_the_cache_as_a_lookup_would(env):
    # getaddrinfo asks nspm's cache directly (NSPIoctl SIO_NSP_CACHED): the same answers, no packet,
    # expiry and the hosts table honoured as by a full lookup.
    _start(env)
    try:
        want = [(2, 1, 6, "", ("192.0.2.4", 80))]
        n = _count("cached.ws2.test")
        assert ws2.getaddrinfo("cached.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM) == want
        for _ in range(5):
            got = ws2.getaddrinfo("cached.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM)
            assert got == want
            got.append(None)  # a fresh list each time: the caller may change it
        assert ws2.getaddrinfo("Cached.WS2.test.", 80, ws2.AF_INET, ws2.SOCK_STREAM) == want
        assert _count("cached.ws2.test") == n + 1, "a cached answer went to the server"
        n = _count("short.ws2.test")
        ws2.getaddrinfo("short.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM)  # TTL 1 s
        ws2.getaddrinfo("short.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM)
        assert _count("short.ws2.test") == n + 1
        time.sleep(1.3)
        ws2.getaddrinfo("short.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM)
        assert _count("short.ws2.test") == n + 2
        ws2.config(hosts={"cached.ws2.test": "10.0.0.7"})  # the hosts table wins over the cache
        assert ws2.getaddrinfo("cached.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM) == [(2, 1, 6, "", ("10.0.0.7", 80))]
    finally:
        _stop()


def test_flushcache_asks_the_server_again(env):
    _start(env)
    try:
        n = _count("flush.ws2.test")
        ws2.gethostbyname("flush.ws2.test")
        r = _lookup("flush.ws2.test", ws2.SVCID_INET_HOSTADDRBYNAME, ws2.LUP_RETURN_ADDR)
        assert _count("flush.ws2.test") == n + 1  # cached
        r = _lookup("flush.ws2.test", ws2.SVCID_INET_HOSTADDRBYNAME, ws2.LUP_RETURN_ADDR | ws2.LUP_FLUSHCACHE)
        assert r[0].csa_buffer[0][1] == ("192.0.2.3", 0)
        assert _count("flush.ws2.test") == n + 2
        ws2.gethostbyname("flush.ws2.test")
        assert _count("flush.ws2.test") == n + 2  # the fresh answer is cached again
    finally:
        _stop()


def test_forged_answers_are_dropped(env):
    _start(env)
    try:
        # the server sends three forgeries first: wrong id, wrong question, right id from another port
        assert ws2.gethostbyname("spoof.ws2.test")[3] == ["192.0.2.7"]
    finally:
        _stop()


def test_settings_apply_without_reboot(env):
    _start(env, [(env.dns_ip, env.dns_blackhole_port)], timeout_ms=300)
    try:
        err(ws2.WSATRY_AGAIN, ws2.gethostbyname, "a.ws2.test")
        ws2.config(dns_servers=[(env.dns_ip, env.dns_port)])
        assert ws2.gethostbyname("a.ws2.test")[3] == ["192.0.2.1"]
    finally:
        _stop()


def test_hosts_table_and_localhost(env):
    hosts = {"Printer.LAN": "10.0.0.9", "v6.lan": "2001:db8::5"}
    _start(env, [(env.dns_ip, env.dns_blackhole_port)], timeout_ms=300, hosts=hosts)
    try:
        # answered locally: a silent server would make any query fail
        assert ws2.getaddrinfo("printer.lan.", 631, ws2.AF_INET, ws2.SOCK_STREAM) == [(2, 1, 6, "", ("10.0.0.9", 631))]
        assert ws2.gethostbyaddr("10.0.0.9")[0] == "Printer.LAN"
        assert ws2.gethostbyname("localhost")[3] == ["127.0.0.1"]
        assert ws2.getnameinfo(("127.0.0.1", 7)) == ("localhost", "echo")
        err(ws2.WSANO_DATA, ws2.gethostbyname, "v6.lan")  # known, but only as IPv6
    finally:
        _stop()


def test_port_resolver_fallback(env):
    import sys

    _start(env, [])
    try:
        assert ws2.gethostbyname("localhost")[3] == ["127.0.0.1"]  # loads nspm
        nspm = sys.modules["providers.nspm"]
        # the real port resolver, whatever shape its getaddrinfo answers in (docs/ports.md)
        assert nspm.port_resolve(env.host_ip, 1) == (env.host_ip, [], [env.host_ip])
        calls = []
        real = nspm.port_resolve

        def fake(name, qtype):
            calls.append((name, qtype))
            return name, [], ["192.0.2.200"]

        nspm.port_resolve = fake
        try:
            assert ws2.gethostbyname("fallback.example")[3] == ["192.0.2.200"]
            assert calls == [("fallback.example", 1)]
            ws2.config(dns_servers=[(env.dns_ip, env.dns_port)])  # a server again: the fallback is not asked
            err(ws2.WSAHOST_NOT_FOUND, ws2.gethostbyname, "fallback2.ws2.test")
            assert len(calls) == 1
        finally:
            nspm.port_resolve = real
    finally:
        _stop()


def test_parser_refuses_hostile_packets(env):
    from providers import dnsmsg

    hdr = b"\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    for data in (b"", hdr, hdr + b"\xc0\x0c\x00\x01\x00\x01", hdr + b"\x01a\xc0\x0c", hdr + b"\x3f" + b"a" * 10,
                 hdr + b"\x01a\x00\x00\x01\x00\x01", b"\x00\x01\x81\x80\x00\x01\xff\xff\xff\xff\x00\x00\x01a\x00\x00\x01\x00\x01"):
        try:
            dnsmsg.parse(data)
        except dnsmsg.DNSError:
            continue
        raise AssertionError("parsed %r" % (data,))
