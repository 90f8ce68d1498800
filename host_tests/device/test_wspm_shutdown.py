# Device tests: wspm shutdown (SD_RECEIVE, SD_SEND, SD_BOTH), WSASendDisconnect / WSARecvDisconnect.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
#
# No MicroPython port has a native shutdown: there SD_SEND and SD_RECEIVE are
# kept as state (later calls fail WSAESHUTDOWN, the peer sees nothing), and once
# both directions are shut the native socket is closed, so the peer sees the FIN.
# CPython calls the real shutdown, so SD_SEND alone already reaches the peer.
import sys

import ws2
from devhelp import err, pair, recv_exact

# Every test here talks to the host's servers: the emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": "no network on the emulated board"}

NATIVE_SHUTDOWN = sys.implementation.name != "micropython"


def _sees_eof(s):
    return ws2.recv(s, 10) == b""


def _sees_nothing(s):
    # no FIN and no data: a non-blocking receive would block
    ws2.ioctlsocket(s, ws2.FIONBIO, 1)
    try:
        ws2.recv(s, 10)
    except ws2.WSAError as e:
        return e.errno == ws2.WSAEWOULDBLOCK
    finally:
        ws2.ioctlsocket(s, ws2.FIONBIO, 0)
    return False


def test_shutdown_errors():
    ws2.WSAStartup(0x0202)
    try:
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        err(ws2.WSAENOTCONN, ws2.shutdown, t, ws2.SD_SEND)  # unconnected stream socket
        l, c, s = pair()
        err(ws2.WSAENOTCONN, ws2.shutdown, l, ws2.SD_BOTH)  # a listener is not connected
        for how in (3, -1, "1", None):
            err(ws2.WSAEINVAL, ws2.shutdown, c, how)
        ws2.send(c, b"still fine")
        assert recv_exact(s, 10) == b"still fine"
        for h in (t, s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_sd_send():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        ws2.send(c, b"last words")
        ws2.shutdown(c, ws2.SD_SEND)
        err(ws2.WSAESHUTDOWN, ws2.send, c, b"x")
        err(ws2.WSAESHUTDOWN, ws2.WSASend, c, [b"x"])
        assert recv_exact(s, 10) == b"last words"
        if NATIVE_SHUTDOWN:
            assert _sees_eof(s)  # the FIN went out
        else:
            assert _sees_nothing(s)  # lwIP cannot send a FIN without closing
        # the other direction still works
        ws2.send(s, b"reply")
        assert recv_exact(c, 5) == b"reply"
        assert ws2.getpeername(c) == ws2.getsockname(l)
        # shutting the rest: now the peer sees the end everywhere
        ws2.shutdown(c, ws2.SD_RECEIVE)
        assert _sees_eof(s)
        err(ws2.WSAESHUTDOWN, ws2.recv, c, 1)
        # the socket is still a socket: names, options, ioctls, close
        assert ws2.getpeername(c) == ws2.getsockname(l)
        ws2.getsockname(c)
        ws2.setsockopt(c, ws2.SOL_SOCKET, ws2.SO_KEEPALIVE, 1)
        assert ws2.getsockopt(c, ws2.SOL_SOCKET, ws2.SO_KEEPALIVE) == 1
        assert ws2.ioctlsocket(c, ws2.FIONREAD, 0) == 0
        ws2.ioctlsocket(c, ws2.FIONBIO, 1)
        ws2.shutdown(c, ws2.SD_BOTH)  # again: nothing left to do, still fine
        err(ws2.WSAEISCONN, ws2.connect, c, ws2.getsockname(l))
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_sd_receive():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        ws2.shutdown(c, ws2.SD_RECEIVE)
        err(ws2.WSAESHUTDOWN, ws2.recv, c, 1)
        err(ws2.WSAESHUTDOWN, ws2.recv_into, c, bytearray(4))
        err(ws2.WSAESHUTDOWN, ws2.WSARecv, c, [bytearray(4)])
        assert ws2.send(c, b"sending still works") == 19
        assert recv_exact(s, 19) == b"sending still works"
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_sd_both_peer_sees_eof():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        ws2.send(c, b"bye")
        ws2.shutdown(c, ws2.SD_BOTH)
        assert recv_exact(s, 3) == b"bye"
        assert _sees_eof(s)
        err(ws2.WSAESHUTDOWN, ws2.send, c, b"x")
        err(ws2.WSAESHUTDOWN, ws2.recv, c, 1)
        assert ws2.getpeername(c) == ws2.getsockname(l)
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_disconnect_functions():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = pair()
        err(ws2.WSAENOPROTOOPT, ws2.WSASendDisconnect, c, b"disconnect data")
        ws2.send(c, b"ok")  # the refused call changed nothing
        assert ws2.WSASendDisconnect(c) == 0
        err(ws2.WSAESHUTDOWN, ws2.send, c, b"x")
        err(ws2.WSAENOPROTOOPT, ws2.WSARecvDisconnect, c, bytearray(16))
        ws2.send(s, b"in")
        assert recv_exact(c, 2) == b"in"
        assert ws2.WSARecvDisconnect(c) == 0  # no disconnect data on TCP/IP
        err(ws2.WSAESHUTDOWN, ws2.recv, c, 1)
        assert recv_exact(s, 2) == b"ok"
        assert _sees_eof(s)
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_udp_shutdown():
    ws2.WSAStartup(0x0202)
    try:
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.bind(u, ("127.0.0.1", 0))
        me = ws2.getsockname(u)
        ws2.shutdown(u, ws2.SD_RECEIVE)  # a datagram socket need not be connected
        err(ws2.WSAESHUTDOWN, ws2.recvfrom, u, 10)
        assert ws2.sendto(u, b"out", me) == 3
        ws2.shutdown(u, ws2.SD_SEND)
        err(ws2.WSAESHUTDOWN, ws2.sendto, u, b"out", me)
        assert ws2.getsockname(u) == me
        ws2.closesocket(u)
    finally:
        ws2.WSACleanup()
