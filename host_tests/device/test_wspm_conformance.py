# Device tests: the stream/datagram conformance checks every transport provider must pass (in the spirit of trio's
# stream checks), bad input on every call wspm serves, and wspm's RAM per socket.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import MP, TIMEO, err, pair, recv_exact

# The emulated RP2040 (docs/emulator.md) has no network; its firmware is a real Pico W's.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_empty_send': 'no network on the emulated board',
    'test_buffer_types': 'no network on the emulated board',
    'test_closed_and_stale_handles': 'no network on the emulated board',
    'test_bad_input_leaves_socket_usable': 'no network on the emulated board',
}}


def _round_trip(c, s, payload=b"round trip"):
    assert ws2.send(c, payload) == len(payload)
    assert recv_exact(s, len(payload)) == payload


def test_empty_send():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        assert ws2.send(c, b"") == 0
        assert ws2.WSASend(c, []) == 0
        assert ws2.WSASend(c, [b"", bytearray(0)]) == 0
        assert ws2.recv(s, 0) == b""  # a zero-length receive returns at once
        assert ws2.recv_into(s, bytearray(0)) == 0
        _round_trip(c, s)
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_buffer_types():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        for buf in (b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), memoryview(b"xxslicexx")[2:7]):
            assert ws2.send(c, buf) == len(buf)
            assert recv_exact(s, len(buf)) == bytes(buf)
        # recv_into: bytearray, memoryview, a slice of one; nothing past the count is touched
        for make in (lambda: bytearray(b"\xee" * 16), lambda: memoryview(bytearray(b"\xee" * 16))):
            target = make()
            ws2.send(c, b"12345")
            n = 0
            while n < 5:
                n += ws2.recv_into(s, memoryview(target)[n:], 5 - n)
            assert bytes(target) == b"12345" + b"\xee" * 11, bytes(target)
        target = bytearray(b"\xee" * 8)
        ws2.send(c, b"ab")
        assert ws2.WSARecv(s, [memoryview(target)[3:5]], ws2.MSG_WAITALL) == (2, 0)
        assert target == b"\xee\xee\xeeab\xee\xee\xee", target
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_closed_and_stale_handles():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        ws2.closesocket(c)
        for call in (lambda: ws2.closesocket(c), lambda: ws2.recv(c, 1), lambda: ws2.send(c, b"x"),
                     lambda: ws2.getsockopt(c, ws2.SOL_SOCKET, ws2.SO_TYPE), lambda: ws2.shutdown(c, 1),
                     lambda: ws2.ioctlsocket(c, ws2.FIONREAD, 0), lambda: ws2.getpeername(c)):
            err(ws2.WSAENOTSOCK, call)
        n = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)  # may take the slot, never the handle
        assert n != c
        err(ws2.WSAENOTSOCK, ws2.recv, c, 1)
        assert ws2.recv(s, 1) == b""  # the peer saw the close
        for h in (n, s, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_not_started():
    ws2.WSAStartup(0x0202)
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.WSACleanup()  # the last cleanup destroys the sockets
    for call in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0), lambda: ws2.sendto(s, b"x", ("127.0.0.1", 9)),
                 lambda: ws2.recv(s, 1), lambda: ws2.closesocket(s)):
        err(ws2.WSANOTINITIALISED, call)


def test_bad_input_leaves_socket_usable():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        fresh = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        SOL = ws2.SOL_SOCKET
        rows = (
            (ws2.WSAEFAULT, ws2.send, c, None),
            (ws2.WSAEFAULT, ws2.send, c, "text is not bytes"),
            (ws2.WSAEFAULT, ws2.send, c, 12),
            (ws2.WSAEFAULT, ws2.WSASend, c, [b"half", None]),  # nothing sent: checked first
            (ws2.WSAEINVAL, ws2.send, c, b"x", "flags"),
            (ws2.WSAEINVAL, ws2.recv, s, -1),
            (ws2.WSAEFAULT, ws2.recv, s, "10"),
            (ws2.WSAEWOULDBLOCK, ws2.recv, s, 1 << 40, ws2.MSG_DONTWAIT),  # oversized: no 1 TB buffer
            (ws2.WSAEFAULT, ws2.recv_into, s, b"immutable"),
            (ws2.WSAEFAULT, ws2.recv_into, s, None),
            (ws2.WSAEINVAL, ws2.recv_into, s, bytearray(4), -1),
            (ws2.WSAEFAULT, ws2.WSARecv, s, None),
            (ws2.WSAEFAULT, ws2.WSARecv, s, [bytearray(2), b"read-only"]),
            (ws2.WSAEFAULT, ws2.connect, fresh, None),
            (ws2.WSAEFAULT, ws2.connect, fresh, "127.0.0.1"),
            (ws2.WSAEFAULT, ws2.connect, fresh, ("127.0.0.1",)),
            (ws2.WSAEFAULT, ws2.connect, fresh, ("127.0.0.1", "80")),
            (ws2.WSAEFAULT, ws2.connect, fresh, ("no.such.host", 80)),  # a sockaddr holds no names
            (ws2.WSAEINVAL, ws2.connect, fresh, ("127.0.0.1", -1)),
            (ws2.WSAEINVAL, ws2.connect, fresh, ("127.0.0.1", 70000)),
            (ws2.WSAEAFNOSUPPORT, ws2.connect, fresh, ("::1", 80, 0, 0)),
            (ws2.WSAEFAULT, ws2.bind, u, None),
            (ws2.WSAEFAULT, ws2.bind, u, ("256.0.0.1", 0)),
            (ws2.WSAEFAULT, ws2.sendto, u, None, ("127.0.0.1", 9)),
            (ws2.WSAEFAULT, ws2.sendto, u, b"x", ("127.0.0.1", None)),
            (ws2.WSAEFAULT, ws2.setsockopt, c, SOL, ws2.SO_RCVTIMEO, None),
            (ws2.WSAEINVAL, ws2.getsockopt, c, None, 1),
            (ws2.WSAEINVAL, ws2.getsockopt, c, SOL, None),
            (ws2.WSAEFAULT, ws2.ioctlsocket, c, ws2.FIONBIO, None),
            (ws2.WSAEINVAL, ws2.ioctlsocket, c, None, 1),
            (ws2.WSAEINVAL, ws2.listen, l, -1),
            (ws2.WSAEINVAL, ws2.listen, l, "5"),
            (ws2.WSAEINVAL, ws2.shutdown, c, 7),
            (ws2.WSAEFAULT, ws2.WSAAccept, l, "not callable"),
        )
        for row in rows:
            err(row[0], row[1], *row[2:])
        # everything still works
        _round_trip(c, s)
        _round_trip(s, c, b"and back")
        ws2.bind(u, ("127.0.0.1", 0))
        ws2.sendto(u, b"udp ok", ws2.getsockname(u))
        ws2.setsockopt(u, SOL, ws2.SO_RCVTIMEO, TIMEO)
        assert ws2.recvfrom(u, 10)[0] == b"udp ok"
        ws2.connect(fresh, ws2.getsockname(l))
        t, _ = ws2.accept(l)
        for h in (t, fresh, u, s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_socket_ram(env):
    # RAM a socket costs on the board beyond its native socket object:
    # the wspm context (the router's handle table is preallocated).
    if not MP:
        env.skip("gc.mem_free is a MicroPython measure")
    import gc
    import socket

    from ws2 import board

    ws2.WSAStartup(0x0202)
    try:
        n = min(8, board.max_udp_sockets())  # 3 on a Pico W: lwIP's UDP pcbs
        ws2.closesocket(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))  # provider loaded, caches warm
        keep = [None] * n
        gc.collect()
        before = gc.mem_free()
        for i in range(n):
            keep[i] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        gc.collect()
        native = (before - gc.mem_free()) // n
        for i in range(n):
            keep[i].close()
            keep[i] = None
        gc.collect()
        before = gc.mem_free()
        for i in range(n):
            keep[i] = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        gc.collect()
        ours = (before - gc.mem_free()) // n - native
        word = 8 if sys.maxsize > 1 << 32 else 4
        print("wspm: %d B per socket beyond the native one (%d B); %d-bit" % (ours, native, word * 8))
        # <= 200 B on a 32-bit board; the host's 64-bit words double it
        assert ours <= 200 * word // 4, ours
        for h in keep:
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()
