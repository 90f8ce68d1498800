# Device tests: ws2/provider: a provider's lifetime (loaded on first use, reference counted, released) and
# deliberately broken providers, which get the right codes while the router survives.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import BAD, err, fake_entry, open_sockets, recv_exact, restore

UPLOAD = ("bad_providers",)
TIMEOUT = 120

# The emulated RP2040 (docs/emulator.md) has no network; its firmware is a real Pico W's.
BOARD_SKIP = {'RPI_PICO_W_EMU': {
    'test_broken_providers_get_the_right_codes_and_the_router_survives': 'no network on the emulated board',
}}


WSPM = "providers.wspm"


def _echo_ok(env):
    # the router still works for wspm
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(s, (env.host_ip, env.tcp_echo_port))
    assert ws2.send(s, b"still here") == 10
    assert recv_exact(s, 10) == b"still here"
    ws2.closesocket(s)


def test_provider_lifetime_refcount_and_release():
    from ws2 import instl, provider

    restore()
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
        err(ws2.WSAENOTSOCK, ws2.closesocket, c)
        ws2.closesocket(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))  # loads again on demand
        assert WSPM in sys.modules and sys.modules[WSPM] is not m
    finally:
        restore()


def test_broken_providers_get_the_right_codes_and_the_router_survives(env):
    from ws2 import provider

    restore()
    ws2.WSAStartup(0x0202)
    try:
        __import__(BAD)
        m = sys.modules[BAD]  # held, so the module's counters stay readable after the router drops it
        rows = ((1, ws2.WSAEINVALIDPROCTABLE), (2, ws2.WSAEINVALIDPROCTABLE), (3, ws2.WSAEPROVIDERFAILEDINIT),
                (4, ws2.WSAEINVALIDPROVIDER), (6, ws2.WSAEPROVIDERFAILEDINIT))
        for mode, code in rows:
            pid = "{0BAD0000-0000-4000-8000-00000000010%d}" % mode
            info = fake_entry(mode, pid)
            sys.modules[BAD] = m
            cleanups = m.cleanups
            open_before = open_sockets()
            e = err(code, ws2.WSASocket, 0, 0, 0, info)
            assert len(str(e)) > 20, str(e)
            assert pid not in provider.loaded and BAD not in sys.modules, mode
            assert open_sockets() == open_before
            if mode == 4:
                assert m.cleanups == cleanups + 1  # a provider that cannot speak 2.2 is cleaned up at once
            err(code, ws2.WSASocket, 0, 0, 0, info)  # the same again: nothing half-loaded remains
            _echo_ok(env)
        # a provider whose module vanished from flash after it was installed
        from ws2 import catalog

        pid = "{0BAD0000-0000-4000-8000-000000000107}"
        info = fake_entry(0, pid)
        catalog.paths[pid] = "no_such_provider_module"
        err(ws2.WSAEPROVIDERFAILEDINIT, ws2.WSASocket, 0, 0, 0, info)
        _echo_ok(env)
        # a WSPSend that raises: each failure is a WSA code, the socket stays usable
        info = fake_entry(5, "{0BAD0000-0000-4000-8000-000000000105}")
        s = ws2.WSASocket(0, 0, 0, info)
        for data, code in ((b"boom", ws2.WSASYSCALLFAILURE), (b"oserror", ws2.WSAECONNRESET),
                           (b"memory", ws2.WSAENOBUFS), (b"zero", ws2.WSASYSCALLFAILURE), (b"type", ws2.WSAEFAULT)):
            err(code, ws2.send, s, data)
            err(code, ws2.WSASend, s, data)
            assert ws2.recv(s, 8) == b""  # the same socket still answers
        ws2.closesocket(s)
        err(ws2.WSAENOTSOCK, ws2.send, s, b"x")
        _echo_ok(env)
        assert open_sockets() == 0
        ws2.WSACleanup()
        assert not provider.loaded and BAD not in sys.modules
    finally:
        restore()
