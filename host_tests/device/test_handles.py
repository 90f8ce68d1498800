# Device tests: ws2/handles, the handle table: stale handles, double close, WSAEMFILE and recovery, the
# max_sockets setting, 10,000 open/close cycles with a stable heap, and the allocation-free hot path.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import gc

import ws2
from devhelp import MP, err, fake_entry, open_sockets, restore

UPLOAD = ("bad_providers",)
TIMEOUT = 120

# The emulated RP2040 (docs/emulator.md) has no network; its firmware is a real Pico W's.
BOARD_SKIP = {'RPI_PICO_W_EMU': {
    'test_10000_open_close_cycles_keep_the_heap_stable': '20,000 socket cycles outlast the 120 s limit on the emulator',
}}


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


def test_stale_handle_and_double_close():
    restore()
    ws2.WSAStartup(0x0202)
    try:
        info = fake_entry()
        for make in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0), lambda: ws2.WSASocket(0, 0, 0, info)):
            s = make()
            ws2.closesocket(s)
            err(ws2.WSAENOTSOCK, ws2.closesocket, s)  # double close
            err(ws2.WSAENOTSOCK, ws2.send, s, b"x")
            err(ws2.WSAENOTSOCK, ws2.recv, s, 1)
            err(ws2.WSAENOTSOCK, ws2.getsockname, s)
            t = make()  # may reuse the slot, never the handle value
            assert t != s and t > 0
            err(ws2.WSAENOTSOCK, ws2.send, s, b"x")
            ws2.closesocket(t)
        for bad in (0, -1, None, "3", 1.0, 1 << 40, 257 + 255):
            err(ws2.WSAENOTSOCK, ws2.closesocket, bad)
        assert open_sockets() == 0
    finally:
        restore()


def test_emfile_at_capacity_then_recovery():
    from ws2 import board, handles, provider

    restore()
    ws2.WSAStartup(0x0202)
    try:
        info = fake_entry()
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
            err(ws2.WSAEMFILE, make)
            err(ws2.WSAEMFILE, make)  # and again: nothing leaked by the failure
            ws2.closesocket(got.pop(n // 2))
            got.append(make())  # one free slot: one more socket
            err(ws2.WSAEMFILE, make)
            for s in got:
                ws2.closesocket(s)
            assert open_sockets() == 0
            more = [make() for _ in range(n)]  # the whole table again
            for s in more:
                ws2.closesocket(s)
        for p in provider.loaded.values():
            assert p.sockets == 0, p
    finally:
        restore()


def test_max_sockets_setting_resizes_the_table_at_the_next_start():
    from ws2 import handles

    restore()
    try:
        ws2.WSAStartup(0x0202)
        old = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.WSACleanup()
        ws2.config(max_sockets=3)
        ws2.WSAStartup(0x0202)
        assert handles.capacity == 3
        got = [ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0) for _ in range(3)]
        assert old not in got  # generations survive the resize
        err(ws2.WSAEMFILE, ws2.socket, ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        err(ws2.WSAENOTSOCK, ws2.closesocket, old)
        for s in got:
            ws2.closesocket(s)
    finally:
        restore()
    ws2.WSAStartup(0x0202)
    assert handles.capacity > 3  # back to the board default
    ws2.WSACleanup()


def test_10000_open_close_cycles_keep_the_heap_stable():
    restore()
    ws2.WSAStartup(0x0202)
    try:
        info = fake_entry()
        for make in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0), lambda: ws2.WSASocket(0, 0, 0, info)):
            _cycles(make, 200)  # warm up: modules, caches, interned names
            before = _heap_free()
            last = _cycles(make, 10000)
            after = _heap_free()
            err(ws2.WSAENOTSOCK, ws2.send, last, b"")
            assert open_sockets() == 0
            if MP:
                # nothing may accumulate per socket: a few hundred bytes of slack for the
                # collector's own bookkeeping, against ~1.5 MB allocated over the run
                assert before - after < 512, (before, after)
    finally:
        restore()


def test_hot_path_allocates_nothing(env):
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        env.skip("needs micropython.heap_lock (CPython has no such switch)")
    restore()
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.WSASocket(0, 0, 0, fake_entry())
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
        restore()
