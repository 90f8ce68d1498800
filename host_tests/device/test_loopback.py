# Device tests: the router path over providers.loopback (TCP and UDP on 127.0.0.1 in memory), which needs no
# network: create, bind, listen, connect, accept, send/recv, select, WSAEventSelect, overlapped, shutdown, close.
# Runs on CPython and on the board (the emulated RP2040 too, which has no network). MIT licence; part of ws2.
import ws2
from devhelp import raises, stop

TIMEOUT = 120


def _up():
    from providers import loopback

    ws2.WSAStartup(0x0202)
    return loopback.install()


def _down():
    stop()
    ws2.catalog.reset()


def _connected():
    ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.bind(ls, ("127.0.0.1", 0))
    ws2.listen(ls, 4)
    port = ws2.getsockname(ls)[1]
    c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(c, ("127.0.0.1", port))
    a, peer = ws2.accept(ls)
    assert peer == ws2.getsockname(c), (peer, ws2.getsockname(c))
    return ls, c, a


def _events(s, ev, want, tries=40):
    got = 0
    codes = [0] * 10
    for _ in range(tries):
        ws2.WSAWaitForMultipleEvents([ev], False, 50, False)
        e, errs = ws2.WSAEnumNetworkEvents(s, ev)
        for b in range(10):
            if e & (1 << b):
                codes[b] = errs[b]
        got |= e
        if got & want == want:
            break
    return got, codes


def test_install_puts_the_loopback_first_and_socket_lands_on_it():
    try:
        ids = _up()
        assert len(ids) == 2 and _up() == ids  # a second install finds the first
        first = ws2.WSAEnumProtocols()[:2]
        assert [p.catalog_entry_id for p in first] == ids
        assert [(p.socket_type, p.protocol) for p in first] == [(ws2.SOCK_STREAM, 6), (ws2.SOCK_DGRAM, 17)]
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        info = ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_PROTOCOL_INFO)
        assert info.catalog_entry_id == ids[0] and "loopback" in info.protocol_name
        ws2.closesocket(s)
    finally:
        _down()
    assert "loopback" not in ws2.WSCEnumProtocols()[0].protocol_name  # reset() took it out again


def test_tcp_connect_accept_send_recv_shutdown_close():
    try:
        _up()
        ls, c, a = _connected()
        assert ws2.send(c, b"hello") == 5
        assert ws2.recv(a, 16) == b"hello"
        buf = bytearray(8)
        assert ws2.WSASend(a, [b"wor", b"ld"]) == 5
        assert ws2.recv_into(c, buf) == 5 and bytes(buf[:5]) == b"world"
        assert ws2.getpeername(a) == ws2.getsockname(c) and ws2.getpeername(c)[1] == ws2.getsockname(ls)[1]
        # 64 KB through an 8 KB buffer in one thread: each side takes turns
        block = bytes(range(256)) * 16
        total = 0
        while total < 65536:
            n = ws2.send(c, block)
            got = b""
            while len(got) < n:
                got += ws2.recv(a, 4096)
            assert got == block[:n]
            total += n
        ws2.shutdown(c, ws2.SD_SEND)
        assert ws2.recv(a, 16) == b""  # end of stream
        raises(ws2.WSAESHUTDOWN, ws2.send, c, b"x")
        ws2.send(a, b"after")  # the other direction still works
        assert ws2.recv(c, 16) == b"after"
        for h in (a, c, ls):
            ws2.closesocket(h)
        raises(ws2.WSAENOTSOCK, ws2.send, c, b"x")
    finally:
        _down()


def test_connect_refused_and_bad_addresses():
    try:
        _up()
        ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.bind(ls, ("127.0.0.1", 0))
        port = ws2.getsockname(ls)[1]  # bound, not listening
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.WSASetLastError(0)
        raises(ws2.WSAECONNREFUSED, ws2.connect, c, ("127.0.0.1", port))
        assert ws2.WSAGetLastError() == ws2.WSAECONNREFUSED
        raises(ws2.WSAEADDRINUSE, ws2.bind, c, ("127.0.0.1", port))
        raises(ws2.WSAEADDRNOTAVAIL, ws2.bind, c, ("10.0.0.1", 0))
        raises(ws2.WSAEFAULT, ws2.connect, c, ("127.0.0.1",))
        raises(ws2.WSAENOTCONN, ws2.recv, c, 4)
        ws2.closesocket(c)
        ws2.closesocket(ls)
    finally:
        _down()


def test_close_with_unread_data_resets_the_peer():
    try:
        _up()
        ls, c, a = _connected()
        ws2.send(c, b"unread")
        ws2.closesocket(a)
        raises(ws2.WSAECONNRESET, ws2.recv, c, 4)
        ws2.closesocket(c)
        ws2.closesocket(ls)
    finally:
        _down()


def test_udp_sendto_recvfrom_and_truncation():
    try:
        _up()
        u1 = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        u2 = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.bind(u1, ("127.0.0.1", 0))
        ws2.bind(u2, ("0.0.0.0", 0))
        p1, p2 = ws2.getsockname(u1)[1], ws2.getsockname(u2)[1]
        assert ws2.sendto(u1, b"datagram", ("127.0.0.1", p2)) == 8
        data, frm = ws2.recvfrom(u2, 64)
        assert data == b"datagram" and frm == ("127.0.0.1", p1)
        ws2.sendto(u2, b"0123456789", ("127.0.0.1", p1))
        small = bytearray(4)
        raises(ws2.WSAEMSGSIZE, ws2.WSARecvFrom, u1, [small])
        assert bytes(small) == b"0123"  # the datagram's head, the rest is gone
        ws2.connect(u1, ("127.0.0.1", p2))
        ws2.send(u1, b"conn")
        assert ws2.recv(u2, 16) == b"conn"
        for h in (u1, u2):
            ws2.closesocket(h)
    finally:
        _down()


def test_select_and_nonblocking():
    try:
        _up()
        ls, c, a = _connected()
        r, w, x = ws2.select([a, c], [c], [], 0)
        assert (r, w, x) == ([], [c], [])
        ws2.ioctlsocket(a, ws2.FIONBIO, 1)
        raises(ws2.WSAEWOULDBLOCK, ws2.recv, a, 4)
        ws2.send(c, b"ready")
        assert ws2.ioctlsocket(a, ws2.FIONREAD, 0) == 5
        r, w, x = ws2.select([a, c], [], [], 100)
        assert r == [a]
        assert ws2.recv(a, 16) == b"ready"
        # a non-blocking connect completes later: writable once connected, exceptional when refused
        n = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.ioctlsocket(n, ws2.FIONBIO, 1)
        raises(ws2.WSAEWOULDBLOCK, ws2.connect, n, ("127.0.0.1", ws2.getsockname(ls)[1]))
        assert ws2.select([], [n], [n], 100)[1] == [n]
        f = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.ioctlsocket(f, ws2.FIONBIO, 1)
        raises(ws2.WSAEWOULDBLOCK, ws2.connect, f, ("127.0.0.1", 9))
        assert ws2.select([], [f], [f], 100)[2] == [f]
        assert ws2.getsockopt(f, ws2.SOL_SOCKET, ws2.SO_ERROR) == ws2.WSAECONNREFUSED
        for h in (a, c, n, f, ls):
            ws2.closesocket(h)
    finally:
        _down()


def test_event_select_accept_connect_read_close():
    try:
        _up()
        ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.bind(ls, ("127.0.0.1", 0))
        ws2.listen(ls, 2)
        lev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(ls, lev, ws2.FD_ACCEPT)
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(c, ev, ws2.FD_CONNECT | ws2.FD_WRITE | ws2.FD_READ | ws2.FD_CLOSE)
        raises(ws2.WSAEWOULDBLOCK, ws2.connect, c, ("127.0.0.1", ws2.getsockname(ls)[1]))
        got, codes = _events(c, ev, ws2.FD_CONNECT | ws2.FD_WRITE)
        assert got & ws2.FD_CONNECT and got & ws2.FD_WRITE and codes[ws2.FD_CONNECT_BIT] == 0, (got, codes)
        got, _ = _events(ls, lev, ws2.FD_ACCEPT)
        assert got & ws2.FD_ACCEPT
        a, _ = ws2.accept(ls)
        ws2.send(a, b"event")
        got, _ = _events(c, ev, ws2.FD_READ)
        assert got & ws2.FD_READ
        assert ws2.recv(c, 16) == b"event"
        ws2.closesocket(a)
        got, codes = _events(c, ev, ws2.FD_CLOSE)
        assert got & ws2.FD_CLOSE and codes[ws2.FD_CLOSE_BIT] == 0, (got, codes)
        ws2.WSAEventSelect(c, None, 0)
        ws2.closesocket(c)
        ws2.closesocket(ls)
    finally:
        _down()


def test_overlapped_recv_completes_by_event_and_close_aborts():
    try:
        _up()
        ls, c, a = _connected()
        ev = ws2.WSACreateEvent()
        ov = ws2.WSAOverlapped(ev)
        buf = bytearray(16)
        raises(ws2.WSA_IO_PENDING, ws2.WSARecv, a, [buf], 0, ov)
        raises(ws2.WSA_IO_INCOMPLETE, ws2.WSAGetOverlappedResult, a, ov, False)
        assert ws2.WSASend(c, [b"over", b"lapped"]) == 10
        assert ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) == 0
        assert ws2.WSAGetOverlappedResult(a, ov, False) == (10, 0)
        assert bytes(buf[:10]) == b"overlapped"
        done = []
        ov2 = ws2.WSAOverlapped(ws2.WSACreateEvent())
        raises(ws2.WSA_IO_PENDING, ws2.WSARecv, a, bytearray(8), 0, ov2, lambda err, n, o, fl: done.append(err))
        ws2.closesocket(a)
        assert ov2.error == ws2.WSA_OPERATION_ABORTED
        ws2.sleep_alertable(10)
        assert done == [ws2.WSA_OPERATION_ABORTED]
        ws2.closesocket(c)
        ws2.closesocket(ls)
    finally:
        _down()


def test_last_cleanup_closes_loopback_sockets_and_releases_the_provider():
    import sys

    try:
        _up()
        ls, c, a = _connected()
        assert "providers.loopback" in sys.modules
        ws2.WSACleanup()
        assert "providers.loopback" not in sys.modules
        ws2.WSAStartup(0x0202)
        raises(ws2.WSAENOTSOCK, ws2.send, c, b"x")
        ls2, c2, a2 = _connected()  # the port table starts empty again: the same ports bind
        for h in (a2, c2, ls2):
            ws2.closesocket(h)
    finally:
        _down()
