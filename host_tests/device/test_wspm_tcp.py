# Device tests: wspm over TCP: socket, bind, listen, accept (with the condition callback), connect, send/recv and flags.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import MP, TIMEO, err, recv_exact, sleep_ms

# Every test here talks to the host's servers: the emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": "no network on the emulated board"}

_LWIP = MP and sys.platform in ("esp32", "rp2")  # no urgent data on lwIP


def _tcp():
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
    return s


def _listener(backlog=4):
    l = _tcp()
    ws2.bind(l, ("127.0.0.1", 0))
    ws2.listen(l, backlog)
    return l, ws2.getsockname(l)


def _pair():
    # A connected loopback pair (the board accepts a connection from itself).
    l, a = _listener()
    c = _tcp()
    ws2.connect(c, a)
    s, peer = ws2.accept(l)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
    return l, c, s


def _wait_readable(s, n):
    # Until FIONREAD reports n bytes (loopback delivers at once, but say so).
    for _ in range(300):
        if ws2.ioctlsocket(s, ws2.FIONREAD, 0) >= n:
            return
        sleep_ms(10)
    raise AssertionError("%d bytes never arrived" % n)


def test_socket_from_protocol_info():
    ws2.WSAStartup(0x0202)
    try:
        infos = [p for p in ws2.WSAEnumProtocols() if p.address_family == ws2.AF_INET and p.protocol == ws2.IPPROTO_TCP]
        assert infos, "no TCP/IPv4 entry"
        for args in ((0, 0, 0), (ws2.FROM_PROTOCOL_INFO,) * 3, (ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)):
            s = ws2.WSASocket(args[0], args[1], args[2], infos[0])
            assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_TYPE) == ws2.SOCK_STREAM
            ws2.closesocket(s)
        # no multipoint in wspm, no socket groups
        err(ws2.WSAEINVAL, ws2.WSASocket, ws2.AF_INET, ws2.SOCK_STREAM, 0, None, 0, ws2.WSA_FLAG_MULTIPOINT_C_ROOT)
        err(ws2.WSAEINVAL, ws2.WSASocket, ws2.AF_INET, ws2.SOCK_STREAM, 0, None, ws2.SG_UNCONSTRAINED_GROUP, 0)
    finally:
        ws2.WSACleanup()


def test_bind_and_names():
    ws2.WSAStartup(0x0202)
    try:
        s = _tcp()
        err(ws2.WSAEINVAL, ws2.getsockname, s)  # not bound yet
        err(ws2.WSAENOTCONN, ws2.getpeername, s)
        ws2.bind(s, ("127.0.0.1", 0))
        host, port = ws2.getsockname(s)
        assert host == "127.0.0.1" and 0 < port < 65536, (host, port)
        err(ws2.WSAEINVAL, ws2.bind, s, ("127.0.0.1", 0))  # bound twice
        t = _tcp()
        err(ws2.WSAEADDRINUSE, ws2.bind, t, ("127.0.0.1", port))
        err(ws2.WSAEADDRNOTAVAIL, ws2.bind, t, ("203.0.113.7", 0))  # TEST-NET-3: not ours
        err(ws2.WSAEAFNOSUPPORT, ws2.bind, t, ("::1", 0))
        ws2.bind(t, ("", 0))  # "" is the wildcard
        assert ws2.getsockname(t)[0] == "0.0.0.0"
        ws2.closesocket(t)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_listen_errors():
    ws2.WSAStartup(0x0202)
    try:
        s = _tcp()
        err(ws2.WSAEINVAL, ws2.listen, s, 2)  # not bound
        err(ws2.WSAEINVAL, ws2.accept, s)  # not listening
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ACCEPTCONN) == 0
        ws2.bind(s, ("127.0.0.1", 0))
        ws2.listen(s, 2)
        ws2.listen(s, ws2.SOMAXCONN)  # again: allowed, a no-op
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ACCEPTCONN) == 1
        err(ws2.WSAEINVAL, ws2.connect, s, ("127.0.0.1", 9))  # a listening socket does not connect
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.bind(u, ("127.0.0.1", 0))
        err(ws2.WSAEOPNOTSUPP, ws2.listen, u, 2)
        ws2.closesocket(u)
        ws2.ioctlsocket(s, ws2.FIONBIO, 1)
        err(ws2.WSAEWOULDBLOCK, ws2.accept, s)  # nothing pending
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_accept_from_loopback():
    ws2.WSAStartup(0x0202)
    try:
        l, a = _listener()
        c = _tcp()
        ws2.connect(c, a)
        s, peer = ws2.accept(l)
        assert peer[0] == "127.0.0.1" and 0 < peer[1] < 65536, peer
        assert ws2.getpeername(s) == peer
        assert ws2.getsockname(s) == a
        assert ws2.getpeername(c) == a
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        assert ws2.send(c, b"hello from the client") == 21
        assert recv_exact(s, 21) == b"hello from the client"
        assert ws2.send(s, b"and back") == 8
        assert recv_exact(c, 8) == b"and back"
        if not MP:  # the kernel knows the client's port; MicroPython cannot ask
            assert ws2.getsockname(c) == peer
        ws2.closesocket(s)
        assert ws2.recv(c, 10) == b""  # orderly close seen by the client
        for h in (c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_conditional_accept():
    ws2.WSAStartup(0x0202)
    try:
        l, a = _listener()
        seen = []

        def cond(caller, caller_data, qos, callee, data):
            seen.append((caller, caller_data, qos, callee, data))
            return ws2.CF_ACCEPT

        c = _tcp()
        ws2.connect(c, a)
        s, peer = ws2.WSAAccept(l, cond, 77)
        assert seen == [(peer, None, None, a, 77)], seen
        ws2.send(c, b"x")
        assert recv_exact(s, 1) == b"x"
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_conditional_accept_reject():
    ws2.WSAStartup(0x0202)
    try:
        l, a = _listener()
        c = _tcp()
        ws2.connect(c, a)
        err(ws2.WSAECONNREFUSED, ws2.WSAAccept, l, lambda *x: ws2.CF_REJECT, 0)
        # The peer sees its connection refused (reset) or at least closed.
        try:
            got = ws2.recv(c, 10)
            assert got == b"", got
        except ws2.WSAError as e:
            assert e.errno in (ws2.WSAECONNRESET, ws2.WSAECONNABORTED), e
        # A condition answering nonsense is WSAEINVAL (and the request is dropped).
        c2 = _tcp()
        ws2.connect(c2, a)
        err(ws2.WSAEINVAL, ws2.WSAAccept, l, lambda *x: 7, 0)
        # The listener keeps working.
        c3 = _tcp()
        ws2.connect(c3, a)
        s, peer = ws2.WSAAccept(l, lambda *x: ws2.CF_ACCEPT, 0)
        for h in (s, c, c2, c3, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_conditional_accept_defer():
    ws2.WSAStartup(0x0202)
    try:
        l, a = _listener()
        c = _tcp()
        ws2.connect(c, a)
        ws2.send(c, b"early")
        calls = []

        def defer(caller, *rest):
            calls.append(caller)
            return ws2.CF_DEFER

        err(ws2.WSATRY_AGAIN, ws2.WSAAccept, l, defer, 0)
        err(ws2.WSATRY_AGAIN, ws2.WSAAccept, l, defer, 0)  # still the same request
        assert len(calls) == 2 and calls[0] == calls[1]
        s, peer = ws2.WSAAccept(l, lambda *x: ws2.CF_ACCEPT, 0)  # now it is taken
        assert peer == calls[0]
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        assert recv_exact(s, 5) == b"early"
        # A deferred request is also what a plain accept() takes next.
        c2 = _tcp()
        ws2.connect(c2, a)
        err(ws2.WSATRY_AGAIN, ws2.WSAAccept, l, defer, 0)
        s2, peer2 = ws2.accept(l)
        assert peer2 == calls[-1]
        for h in (s, s2, c, c2, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_connect_refused_and_so_error(env):
    ws2.WSAStartup(0x0202)
    try:
        s = _tcp()
        err(ws2.WSAECONNREFUSED, ws2.connect, s, (env.host_ip, env.closed_port))
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ERROR) == ws2.WSAECONNREFUSED
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ERROR) == 0  # read clears it
        ws2.closesocket(s)
        s = _tcp()
        err(ws2.WSAEADDRNOTAVAIL, ws2.connect, s, ("0.0.0.0", 80))
        err(ws2.WSAEADDRNOTAVAIL, ws2.connect, s, (env.host_ip, 0))
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        err(ws2.WSAEISCONN, ws2.connect, s, (env.host_ip, env.tcp_echo_port))
        err(ws2.WSAEISCONN, ws2.listen, s, 1)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_connect_timeout():
    # A listener whose backlog is full drops further SYNs, so a connect to it
    # can only time out; SO_SNDTIMEO bounds connect (as on Linux).
    ws2.WSAStartup(0x0202)
    try:
        l, a = _listener(0)
        held = []
        timed_out = False
        for _ in range(6):
            c = _tcp()
            ws2.setsockopt(c, ws2.SOL_SOCKET, ws2.SO_SNDTIMEO, 300)
            held.append(c)
            try:
                ws2.connect(c, a)
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAETIMEDOUT, e
                assert ws2.WSAGetLastError() == ws2.WSAETIMEDOUT
                timed_out = True
                break
        for h in held + [l]:
            ws2.closesocket(h)
        if not timed_out:
            raise AssertionError("a full backlog never made connect time out")
    finally:
        ws2.WSACleanup()


def test_nonblocking_connect(env):
    ws2.WSAStartup(0x0202)
    try:
        for port, want in ((env.tcp_echo_port, 0), (env.closed_port, ws2.WSAECONNREFUSED)):
            s = _tcp()
            ws2.ioctlsocket(s, ws2.FIONBIO, 1)
            so_error = None
            try:
                ws2.connect(s, (env.host_ip, port))
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAEWOULDBLOCK, e
                # SO_ERROR says how it ended; 0 while it is still under way.
                for _ in range(200):
                    so_error = ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ERROR)
                    if so_error:
                        break
                    try:
                        ws2.getpeername(s)
                        break
                    except ws2.WSAError as e2:
                        assert e2.errno == ws2.WSAENOTCONN, e2
                    sleep_ms(10)
            if want:
                assert so_error == want, so_error
            else:
                assert not so_error, so_error
                assert ws2.getpeername(s) == (env.host_ip, port)
                err(ws2.WSAEISCONN, ws2.connect, s, (env.host_ip, port))
                ws2.ioctlsocket(s, ws2.FIONBIO, 0)
                ws2.send(s, b"nb")
                assert recv_exact(s, 2) == b"nb"
            ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_recv_flags_and_modes():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = _pair()
        err(ws2.WSAEWOULDBLOCK, ws2.recv, s, 10, ws2.MSG_DONTWAIT)  # nothing there yet
        ws2.send(c, b"peekaboo")
        _wait_readable(s, 8)
        assert ws2.recv(s, 4, ws2.MSG_PEEK | ws2.MSG_DONTWAIT) == b"peek"
        assert ws2.recv(s, 4, ws2.MSG_PEEK) == b"peek"  # peeking consumes nothing
        buf = bytearray(8)
        assert ws2.recv_into(s, buf, 0, ws2.MSG_WAITALL) == 8 and buf == b"peekaboo"
        err(ws2.WSAEINVAL, ws2.recv, s, 1, 0x100)  # unknown flag
        err(ws2.WSAEOPNOTSUPP, ws2.recv, s, 1, ws2.MSG_PARTIAL)
        err(ws2.WSAEINVAL, ws2.send, s, b"x", 0x100)
        # MSG_WAITALL gathers across segments, beyond the size a plain recv(n) is capped at
        ws2.send(c, b"12345")
        ws2.send(c, b"67890")
        assert ws2.recv(s, 10, ws2.MSG_WAITALL) == b"1234567890"
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 0)  # the wait-forever path
        big = bytes(range(256)) * 17  # 4352 bytes: more than one plain recv(n) hands out on a board
        ws2.send(c, big)
        assert ws2.recv(s, len(big), ws2.MSG_WAITALL) == big
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        # non-blocking mode
        ws2.ioctlsocket(s, ws2.FIONBIO, 1)
        err(ws2.WSAEWOULDBLOCK, ws2.recv, s, 10)
        err(ws2.WSAEWOULDBLOCK, ws2.recv_into, s, bytearray(4))
        err(ws2.WSAEOPNOTSUPP, ws2.recv, s, 4, ws2.MSG_WAITALL)
        ws2.send(c, b"nb")
        got = b""
        for _ in range(100):
            try:
                got = ws2.recv(s, 10)
                break
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAEWOULDBLOCK
                sleep_ms(10)
        assert got == b"nb", got
        ws2.ioctlsocket(s, ws2.FIONBIO, 0)
        # SO_RCVTIMEO: a blocking receive that gets nothing times out
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 200)
        err(ws2.WSAETIMEDOUT, ws2.recv, s, 10)
        ws2.send(c, b"after")
        assert recv_exact(s, 5) == b"after"  # a timeout leaves the socket usable
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_oob():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = _pair()
        if _LWIP:
            err(ws2.WSAEOPNOTSUPP, ws2.send, c, b"!", ws2.MSG_OOB)
            err(ws2.WSAEOPNOTSUPP, ws2.recv, s, 1, ws2.MSG_OOB)
            assert ws2.ioctlsocket(s, ws2.SIOCATMARK, 0) == 1
        else:
            assert ws2.ioctlsocket(s, ws2.SIOCATMARK, 0) == 1  # no urgent data yet
            ws2.send(c, b"data")
            assert ws2.send(c, b"!", ws2.MSG_OOB) == 1
            for _ in range(100):
                if ws2.ioctlsocket(s, ws2.SIOCATMARK, 0) == 0:
                    break
                sleep_ms(10)
            assert ws2.ioctlsocket(s, ws2.SIOCATMARK, 0) == 0  # urgent data waits
            assert ws2.recv(s, 1, ws2.MSG_OOB) == b"!"
            assert recv_exact(s, 4) == b"data"
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        err(ws2.WSAEOPNOTSUPP, ws2.sendto, u, b"x", ws2.MSG_OOB, ("127.0.0.1", 9))
        for h in (u, s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_gather_scatter():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = _pair()
        assert ws2.WSASend(c, [b"ab", bytearray(b"cd"), memoryview(b"xefx")[1:3]]) == 6
        a, b = bytearray(2), bytearray(4)
        assert ws2.WSARecv(s, [a, b], ws2.MSG_WAITALL) == (6, 0)
        assert a == b"ab" and b == b"cdef", (a, b)
        ws2.send(c, b"0123")
        _wait_readable(s, 4)
        n, flags = ws2.WSARecv(s, [memoryview(a)[:1], bytearray(0), b])
        assert n == 4 and a[:1] == b"0" and b[:3] == b"123", (n, a, b)
        for h in (s, c, l):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()


def test_send_after_peer_reset():
    ws2.WSAStartup(0x0202)
    try:
        l, c, s = _pair()
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_LINGER, (1, 0))  # abortive close where the port can
        ws2.closesocket(s)
        failed = False
        for _ in range(20):
            try:
                ws2.send(c, b"x" * 100)
                if not ws2.recv(c, 1, ws2.MSG_DONTWAIT):
                    failed = True  # orderly close: lwIP cannot reset
                    break
            except ws2.WSAError as e:
                assert e.errno in (ws2.WSAECONNRESET, ws2.WSAECONNABORTED, ws2.WSAEWOULDBLOCK), e
                if e.errno != ws2.WSAEWOULDBLOCK:
                    failed = True
                    break
            sleep_ms(20)
        assert failed, "the reset was never reported"
        ws2.closesocket(c)
        ws2.closesocket(l)
    finally:
        ws2.WSACleanup()
