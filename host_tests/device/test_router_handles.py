# Device tests: the handle table (stale handles, double close, WSAEMFILE and recovery, 10,000
# open/close cycles with a stable heap), the allocation-free hot path, provider lifetime, and
# deliberately broken providers. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import gc
import sys

import ws2

UPLOAD = ("bad_providers",)
TIMEOUT = 120

# The emulated RP2040 (docs/emulator.md) has no network; its firmware is a real Pico W's.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_10000_open_close_cycles_keep_the_heap_stable': '20,000 socket cycles outlast the 120 s limit on the emulator',
    'test_broken_providers_get_the_right_codes_and_the_router_survives': 'no network on the emulated board',
}}

JUNK = 12345
BAD = (__name__.rsplit(".", 1)[0] + ".bad_providers") if "." in __name__ else "bad_providers"
WSPM = "providers.wspm"
MP = sys.implementation.name == "micropython"


def _stop():
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            return


def _restore():
    _stop()
    from ws2 import catalog, settings

    catalog.reset()
    settings.reset()


def _expect(code, fn, *args):
    ws2.WSASetLastError(JUNK)
    try:
        fn(*args)
    except ws2.WSAError as e:
        assert e.errno == code, "expected %d, got %r" % (code, e)
        assert ws2.WSAGetLastError() == code, (code, ws2.WSAGetLastError())
        return e
    raise AssertionError("expected WSA error %d from %r" % (code, args))


def _fake(mode=0, pid="{0BAD0000-0000-4000-8000-0000000000F0}"):
    """Install a bad_providers entry in this mode; return its WSAProtocolInfo."""
    info = ws2.WSAProtocolInfo(address_family=99, socket_type=2, protocol=17, provider_flags=0x08, protocol_chain=(1,),
                               protocol_name="bad_providers mode %d" % mode, provider_reserved=mode)
    cid = ws2.WSCInstallProvider(pid, BAD, [info])[0]
    return [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == cid][0]


def _echo_ok(env):
    # the router still works for wspm
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(s, (env.host_ip, env.tcp_echo_port))
    assert ws2.send(s, b"still here") == 10
    got = b""
    while len(got) < 10:
        got += ws2.recv(s, 16)
    assert got == b"still here"
    ws2.closesocket(s)


def _open():
    from ws2 import handles

    return len(handles.open_handles())


def test_stale_handle_and_double_close():
    _restore()
    ws2.WSAStartup(0x0202)
    try:
        info = _fake()
        for make in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0), lambda: ws2.WSASocket(0, 0, 0, info)):
            s = make()
            ws2.closesocket(s)
            _expect(ws2.WSAENOTSOCK, ws2.closesocket, s)  # double close
            _expect(ws2.WSAENOTSOCK, ws2.send, s, b"x")
            _expect(ws2.WSAENOTSOCK, ws2.recv, s, 1)
            _expect(ws2.WSAENOTSOCK, ws2.getsockname, s)
            t = make()  # may reuse the slot, never the handle value
            assert t != s and t > 0
            _expect(ws2.WSAENOTSOCK, ws2.send, s, b"x")
            ws2.closesocket(t)
        for bad in (0, -1, None, "3", 1.0, 1 << 40, 257 + 255):
            _expect(ws2.WSAENOTSOCK, ws2.closesocket, bad)
        assert _open() == 0
    finally:
        _restore()


def test_emfile_at_capacity_then_recovery():
    from ws2 import board, handles, provider

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        info = _fake()
        for udp, make in ((False, lambda: ws2.WSASocket(0, 0, 0, info)),
                          (True, lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))):
            if udp and handles.capacity > board.max_udp_sockets():
                # Real UDP sockets: a table no bigger than what the port holds
                # at once (3 on a Pico W), so that the router's limit comes first.
                ws2.WSACleanup()
                ws2.config(max_sockets=board.max_udp_sockets())
                ws2.WSAStartup(0x0202)
            n = handles.capacity
            got = [make() for _ in range(n)]
            assert len(set(got)) == n
            _expect(ws2.WSAEMFILE, make)
            _expect(ws2.WSAEMFILE, make)  # and again: nothing leaked by the failure
            ws2.closesocket(got.pop(n // 2))
            got.append(make())  # one free slot: one more socket
            _expect(ws2.WSAEMFILE, make)
            for s in got:
                ws2.closesocket(s)
            assert _open() == 0
            more = [make() for _ in range(n)]  # the whole table again
            for s in more:
                ws2.closesocket(s)
        for p in provider.loaded.values():
            assert p.sockets == 0, p
    finally:
        _restore()


def test_max_sockets_setting_resizes_the_table_at_the_next_start():
    from ws2 import handles

    _restore()
    try:
        ws2.WSAStartup(0x0202)
        old = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.WSACleanup()
        ws2.config(max_sockets=3)
        ws2.WSAStartup(0x0202)
        assert handles.capacity == 3
        got = [ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0) for _ in range(3)]
        assert old not in got  # generations survive the resize
        _expect(ws2.WSAEMFILE, ws2.socket, ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        _expect(ws2.WSAENOTSOCK, ws2.closesocket, old)
        for s in got:
            ws2.closesocket(s)
    finally:
        _restore()
    ws2.WSAStartup(0x0202)
    assert handles.capacity > 3  # back to the board default
    ws2.WSACleanup()


def _cycles(make, n):
    last = 0
    for i in range(n):
        s = make()
        if s == last:
            raise AssertionError("handle %d came back at cycle %d" % (s, i))
        ws2.closesocket(s)
        last = s
    return last


def _heap_free():
    gc.collect()
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else 0


def test_10000_open_close_cycles_keep_the_heap_stable():
    _restore()
    ws2.WSAStartup(0x0202)
    try:
        info = _fake()
        for make in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0), lambda: ws2.WSASocket(0, 0, 0, info)):
            _cycles(make, 200)  # warm up: modules, caches, interned names
            before = _heap_free()
            last = _cycles(make, 10000)
            after = _heap_free()
            _expect(ws2.WSAENOTSOCK, ws2.send, last, b"")
            assert _open() == 0
            if MP:
                # nothing may accumulate per socket: a few hundred bytes of slack for the
                # collector's own bookkeeping, against ~1.5 MB allocated over the run
                assert before - after < 512, (before, after)
    finally:
        _restore()


def test_hot_path_allocates_nothing(env):
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        env.skip("needs micropython.heap_lock (CPython has no such switch)")
    _restore()
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.WSASocket(0, 0, 0, _fake())
        buf = bytearray(16)
        mv = memoryview(buf)
        addr = ("10.0.0.1", 9)
        calls = (
            lambda: ws2.send(s, buf), lambda: ws2.send(s, mv, 0), lambda: ws2.recv(s, 16),
            lambda: ws2.recv_into(s, buf), lambda: ws2.sendto(s, buf, addr), lambda: ws2.sendto(s, buf, 0, addr),
            lambda: ws2.WSASend(s, buf), lambda: ws2.WSARecv(s, buf), lambda: ws2.WSASendTo(s, buf, addr),
            lambda: ws2.WSARecvFrom(s, buf),
        )
        for c in calls:
            c()  # warm up: the lazy root caches each name on first use
        for k in range(len(calls)):
            c = calls[k]
            heap_lock()
            try:
                for _ in range(20):
                    c()
            except MemoryError:
                heap_unlock()
                raise AssertionError("hot-path call %d allocated" % k)
            heap_unlock()
        ws2.closesocket(s)
    finally:
        _restore()


def test_provider_lifetime_refcount_and_release():
    from ws2 import instl, provider

    _restore()
    ws2.WSAStartup(0x0202)
    ws2.WSAStartup(0x0202)
    try:
        a = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        m = sys.modules[WSPM]
        starts = m._starts
        b = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        assert m._starts == starts  # one WSPStartup per provider, not per socket
        p = provider.loaded[instl.WSPM_ID]
        assert p.sockets == 2
        ws2.closesocket(a)
        assert p.sockets == 1
        ws2.WSACleanup()  # one user left: nothing released
        assert instl.WSPM_ID in provider.loaded and WSPM in sys.modules
        ws2.closesocket(b)
        assert instl.WSPM_ID in provider.loaded  # no socket, but still started
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.WSACleanup()  # the last: closes c, WSPCleanup, module dropped
        assert m._starts == starts - 1
        assert WSPM not in sys.modules and instl.WSPM_ID not in provider.loaded
        assert not provider.loaded
        ws2.WSAStartup(0x0202)
        _expect(ws2.WSAENOTSOCK, ws2.closesocket, c)
        ws2.closesocket(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))  # loads again on demand
        assert WSPM in sys.modules and sys.modules[WSPM] is not m
    finally:
        _restore()


def test_broken_providers_get_the_right_codes_and_the_router_survives(env):
    from ws2 import provider

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        __import__(BAD)
        m = sys.modules[BAD]  # held, so the module's counters stay readable after the router drops it
        rows = ((1, ws2.WSAEINVALIDPROCTABLE), (2, ws2.WSAEINVALIDPROCTABLE), (3, ws2.WSAEPROVIDERFAILEDINIT),
                (4, ws2.WSAEINVALIDPROVIDER), (6, ws2.WSAEPROVIDERFAILEDINIT))
        for mode, code in rows:
            pid = "{0BAD0000-0000-4000-8000-00000000010%d}" % mode
            info = _fake(mode, pid)
            sys.modules[BAD] = m
            cleanups = m.cleanups
            open_before = _open()
            e = _expect(code, ws2.WSASocket, 0, 0, 0, info)
            assert len(str(e)) > 20, str(e)
            assert pid not in provider.loaded and BAD not in sys.modules, mode
            assert _open() == open_before
            if mode == 4:
                assert m.cleanups == cleanups + 1  # a provider that cannot speak 2.2 is cleaned up at once
            _expect(code, ws2.WSASocket, 0, 0, 0, info)  # the same again: nothing half-loaded remains
            _echo_ok(env)
        # a provider whose module vanished from flash after it was installed
        from ws2 import catalog

        pid = "{0BAD0000-0000-4000-8000-000000000107}"
        info = _fake(0, pid)
        catalog.paths[pid] = "no_such_provider_module"
        _expect(ws2.WSAEPROVIDERFAILEDINIT, ws2.WSASocket, 0, 0, 0, info)
        _echo_ok(env)
        # a WSPSend that raises: each failure is a WSA code, the socket stays usable
        info = _fake(5, "{0BAD0000-0000-4000-8000-000000000105}")
        s = ws2.WSASocket(0, 0, 0, info)
        for data, code in ((b"boom", ws2.WSASYSCALLFAILURE), (b"oserror", ws2.WSAECONNRESET),
                           (b"memory", ws2.WSAENOBUFS), (b"zero", ws2.WSASYSCALLFAILURE), (b"type", ws2.WSAEFAULT)):
            _expect(code, ws2.send, s, data)
            _expect(code, ws2.WSASend, s, data)
            assert ws2.recv(s, 8) == b""  # the same socket still answers
        ws2.closesocket(s)
        _expect(ws2.WSAENOTSOCK, ws2.send, s, b"x")
        _echo_ok(env)
        assert _open() == 0
        ws2.WSACleanup()
        assert not provider.loaded and BAD not in sys.modules
    finally:
        _restore()
