# Device tests: wspm's local and peer names (getsockname, getpeername), checked against what the peer sees.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2

ENV = ("peer_view",)
TIMEOUT = 60
TIMEO = 3000  # ms: no test waits forever on a socket


def seen(s):
    """The "ip port" line a peer-view server sends: the address it sees this socket connect from."""
    data = b""
    while not data.endswith(b"\n"):
        d = ws2.recv(s, 64)
        assert d, "peer closed early"
        data += d
    ip, port = data.decode().split()
    return ip, int(port)


def test_getsockname_after_connect_is_what_the_peer_sees(env):
    ws2.WSAStartup(0x0202)
    try:
        for _ in range(3):  # a new port each time, each one right
            s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
            ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
            ws2.connect(s, (env.host_ip, env.tcp_view_port))
            me = ws2.getsockname(s)
            assert me[1] != 0 and me == seen(s), (me, env)
            assert ws2.getpeername(s) == (env.host_ip, env.tcp_view_port)
            ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_getsockname_after_a_nonblocking_connect(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.ioctlsocket(s, ws2.FIONBIO, 1)
        try:
            ws2.connect(s, (env.host_ip, env.tcp_view_port))
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEWOULDBLOCK, e
        assert ws2.select([], [s], [], 3)[1] == [s]
        ws2.ioctlsocket(s, ws2.FIONBIO, 0)
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        assert ws2.getsockname(s) == seen(s)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_udp_names(env):
    ws2.WSAStartup(0x0202)
    try:
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.setsockopt(u, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        ws2.sendto(u, b"?", (env.host_ip, env.udp_view_port))  # binds implicitly
        me = ws2.getsockname(u)
        data, src = ws2.recvfrom(u, 64)
        ip, port = data.decode().split()
        assert src == (env.host_ip, env.udp_view_port)
        assert me[1] == int(port) and me[0] in ("0.0.0.0", ip), (me, data)  # not connected: any local IP
        ws2.closesocket(u)
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.setsockopt(u, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        ws2.connect(u, (env.host_ip, env.udp_view_port))
        ws2.send(u, b"?")
        ip, port = ws2.recv(u, 64).decode().split()
        assert ws2.getsockname(u) == (ip, int(port))
        assert ws2.getpeername(u) == (env.host_ip, env.udp_view_port)
        ws2.closesocket(u)
    finally:
        ws2.WSACleanup()


def test_listener_and_accepted_names(env):
    ws2.WSAStartup(0x0202)
    try:
        ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.bind(ls, ("0.0.0.0", 0))
        ws2.listen(ls, 2)
        here = ws2.getsockname(ls)
        assert here[0] == "0.0.0.0" and here[1] != 0, here
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(c, ("127.0.0.1", here[1]))  # the port it reports is the one it listens on
        a, peer = ws2.accept(ls)
        assert peer == ws2.getsockname(c) == ws2.getpeername(a)
        assert ws2.getsockname(a) == ws2.getpeername(c) == ("127.0.0.1", here[1])
        ws2.send(c, b"names")
        assert ws2.recv(a, 16) == b"names"
        for s in (a, c, ls):
            ws2.closesocket(s)
        # Before bind and connect there is no name; a socket never connected has no peer.
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        for fn, code in ((ws2.getsockname, ws2.WSAEINVAL), (ws2.getpeername, ws2.WSAENOTCONN)):
            try:
                fn(s)
                raise AssertionError("expected %d" % code)
            except ws2.WSAError as e:
                assert e.errno == code, e
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_local_ip_is_the_interface_on_the_peers_subnet():
    # The interface choice of wspm on boards (pure: interfaces and peer given).
    from providers.wspm import listen as m

    sta = ("192.168.1.20", "255.255.255.0")
    ap = ("192.168.4.1", "255.255.255.0")
    assert m.pick_local([sta, ap], bytes([192, 168, 4, 7])) == "192.168.4.1"
    assert m.pick_local([sta, ap], bytes([192, 168, 1, 1])) == "192.168.1.20"
    assert m.pick_local([sta, ap], bytes([8, 8, 8, 8])) == "192.168.1.20"  # beyond: the default route, the station
    assert m.pick_local([], bytes([8, 8, 8, 8])) is None
