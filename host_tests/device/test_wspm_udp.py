# Device tests: wspm over UDP: sendto/recvfrom, connected datagram sockets, message sizes, broadcast, multicast, IPv6.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import MP, TIMEO, err

# Every test here talks to the host's servers: the emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": "no network on the emulated board"}

GROUP = "239.255.42.99"  # administratively scoped: never leaves the site


def _udp(af=None):
    s = ws2.socket(af or ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
    return s


def test_sendto_recvfrom_echo(env):
    ws2.WSAStartup(0x0202)
    try:
        s = _udp()
        peer = (env.host_ip, env.udp_echo_port)
        assert ws2.sendto(s, b"ping", peer) == 4
        data, addr = ws2.recvfrom(s, 100)
        assert data == b"ping" and addr == peer, (data, addr)
        assert ws2.getsockname(s)[0] == "0.0.0.0" or not MP  # implicitly bound by sendto
        # into caller buffers, scattered; the rest of the buffer is left alone
        assert ws2.WSASendTo(s, [b"sc", bytearray(b"at"), memoryview(b"ter")], peer) == 7
        a, b = bytearray(b"\xee" * 3), bytearray(b"\xee" * 10)
        n, flags, addr = ws2.WSARecvFrom(s, [a, b])
        assert (n, flags, addr) == (7, 0, peer) and a == b"sca" and b == b"tter" + b"\xee" * 6, (n, a, b)
        # an empty datagram is a datagram
        assert ws2.sendto(s, b"", peer) == 0
        assert ws2.recvfrom(s, 10) == (b"", peer)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_connected_udp(env):
    ws2.WSAStartup(0x0202)
    try:
        s = _udp()
        err(ws2.WSAENOTCONN, ws2.send, s, b"x")  # no default peer yet
        err(ws2.WSAENOTCONN, ws2.getpeername, s)
        err(ws2.WSAEDESTADDRREQ, ws2.WSASendTo, s, b"x", None)
        err(ws2.WSAEINVAL, ws2.recv, s, 10)  # unbound: nothing could ever arrive
        ws2.connect(s, (env.host_ip, env.udp_echo_port))
        assert ws2.getpeername(s) == (env.host_ip, env.udp_echo_port)
        assert ws2.send(s, b"default peer") == 12
        assert ws2.recv(s, 100) == b"default peer"
        buf = bytearray(20)
        ws2.send(s, memoryview(b"into a buffer"))
        assert ws2.recv_into(s, buf) == 13 and buf[:13] == b"into a buffer"
        ws2.connect(s, (env.host_ip, env.udp_echo_port))  # connecting again just changes the peer
        err(ws2.WSAEADDRNOTAVAIL, ws2.sendto, s, b"x", (env.host_ip, 0))
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_message_sizes():
    ws2.WSAStartup(0x0202)
    try:
        r = _udp()
        ws2.bind(r, ("127.0.0.1", 0))
        a = ws2.getsockname(r)
        s = _udp()
        ws2.bind(s, ("127.0.0.1", 0))
        me = ws2.getsockname(s)
        # Too long for one datagram: refused before anything is sent (a gather
        # list of one 4 KB chunk, so the board does not need 64 KB to test it).
        chunk = bytearray(4096)
        err(ws2.WSAEMSGSIZE, ws2.WSASendTo, s, [chunk] * 16, a)
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_MAX_MSG_SIZE) == 65507
        # Longer than the buffer: its start is delivered, WSAEMSGSIZE says it was cut, the rest is gone.
        ws2.sendto(s, b"0123456789", a)
        ws2.sendto(s, b"next", a)
        ws2.sendto(s, b"third datagram", a)
        buf = bytearray(b"\xee" * 6)
        err(ws2.WSAEMSGSIZE, ws2.WSARecvFrom, r, buf)
        assert buf == b"012345", buf
        assert ws2.recvfrom(r, 100) == (b"next", me)
        err(ws2.WSAEMSGSIZE, ws2.recvfrom, r, 5)  # the int form too
        # MSG_PEEK leaves the datagram queued
        ws2.sendto(s, b"peeked", a)
        assert ws2.recvfrom(r, 100, ws2.MSG_PEEK) == (b"peeked", me)
        assert ws2.recvfrom(r, 100) == (b"peeked", me)
        err(ws2.WSAEOPNOTSUPP, ws2.recvfrom, r, 10, ws2.MSG_OOB)
        err(ws2.WSAEOPNOTSUPP, ws2.recvfrom, r, 10, ws2.MSG_WAITALL)
        # non-blocking: nothing there
        err(ws2.WSAEWOULDBLOCK, ws2.recvfrom, r, 10, ws2.MSG_DONTWAIT)
        ws2.ioctlsocket(r, ws2.FIONBIO, 1)
        err(ws2.WSAEWOULDBLOCK, ws2.recvfrom, r, 10)
        ws2.ioctlsocket(r, ws2.FIONBIO, 0)
        ws2.setsockopt(r, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 150)
        err(ws2.WSAETIMEDOUT, ws2.recvfrom, r, 10)
        ws2.closesocket(r)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_broadcast_needs_so_broadcast():
    ws2.WSAStartup(0x0202)
    try:
        s = _udp()
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_BROADCAST) == 0
        err(ws2.WSAEACCES, ws2.sendto, s, b"hello all", ("255.255.255.255", 9))
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_BROADCAST, True)
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_BROADCAST) == 1
        try:
            ws2.sendto(s, b"hello all", ("255.255.255.255", 9))
        except ws2.WSAError as e:  # allowed now; the host may still have no route for it
            assert e.errno in (ws2.WSAENETUNREACH, ws2.WSAEHOSTUNREACH, ws2.WSAEADDRNOTAVAIL), e
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_multicast_options():
    ws2.WSAStartup(0x0202)
    try:
        s = _udp()
        assert ws2.getsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL) == 1
        assert ws2.getsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_LOOP) == 1
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL, 4)
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_LOOP, 0)
        assert ws2.getsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL) == 4
        assert ws2.getsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_LOOP) == 0
        err(ws2.WSAEINVAL, ws2.setsockopt, s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL, 256)
        ws2.bind(s, ("0.0.0.0", 0))
        mreq = (GROUP, "127.0.0.1")
        err(ws2.WSAEADDRNOTAVAIL, ws2.setsockopt, s, ws2.IPPROTO_IP, ws2.IP_DROP_MEMBERSHIP, mreq)
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, mreq)
        err(ws2.WSAEADDRINUSE, ws2.setsockopt, s, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, mreq)
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_DROP_MEMBERSHIP, mreq)
        err(ws2.WSAEINVAL, ws2.setsockopt, s, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, ("10.1.2.3", "127.0.0.1"))
        err(ws2.WSAEFAULT, ws2.setsockopt, s, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, None)
        err(ws2.WSAENOPROTOOPT, ws2.getsockopt, s, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP)  # set-only
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        err(ws2.WSAENOPROTOOPT, ws2.setsockopt, t, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, mreq)
        err(ws2.WSAENOPROTOOPT, ws2.getsockopt, t, ws2.IPPROTO_IP, ws2.IP_MULTICAST_TTL)
        ws2.closesocket(t)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_multicast_on_loopback(env):
    ws2.WSAStartup(0x0202)
    try:
        r = _udp()
        ws2.setsockopt(r, ws2.SOL_SOCKET, ws2.SO_REUSEADDR, 1)
        ws2.bind(r, ("0.0.0.0", 0))
        port = ws2.getsockname(r)[1]
        try:
            ws2.setsockopt(r, ws2.IPPROTO_IP, ws2.IP_ADD_MEMBERSHIP, (GROUP, "127.0.0.1"))
        except ws2.WSAError as e:
            ws2.closesocket(r)
            env.skip("joining a group on loopback is refused here: %s" % e)
        s = _udp()
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_IF, "127.0.0.1")
        assert ws2.getsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_IF) == "127.0.0.1"
        ws2.setsockopt(s, ws2.IPPROTO_IP, ws2.IP_MULTICAST_LOOP, 1)
        ws2.setsockopt(r, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 1000)
        try:
            ws2.sendto(s, b"to the group", (GROUP, port))
            data, addr = ws2.recvfrom(r, 100)
        except ws2.WSAError as e:
            ws2.closesocket(s)
            ws2.closesocket(r)
            env.skip("multicast is not delivered on loopback here (%s)" % e)
        assert data == b"to the group" and addr[0] == "127.0.0.1", (data, addr)
        ws2.setsockopt(r, ws2.IPPROTO_IP, ws2.IP_DROP_MEMBERSHIP, (GROUP, "127.0.0.1"))
        ws2.closesocket(s)
        ws2.closesocket(r)
    finally:
        ws2.WSACleanup()


def test_ipv6_loopback(env):
    ws2.WSAStartup(0x0202)
    try:
        if not [p for p in ws2.WSAEnumProtocols() if p.address_family == ws2.AF_INET6]:
            env.skip("this port has no IPv6 sockets")
        try:
            r = _udp(ws2.AF_INET6)
            ws2.bind(r, ("::1", 0))
        except ws2.WSAError as e:
            env.skip("no IPv6 loopback here: %s" % e)
        a = ws2.getsockname(r)
        assert len(a) == 4 and a[0] == "::1" and a[1] > 0, a
        s = _udp(ws2.AF_INET6)
        ws2.sendto(s, b"v6", ("::1", a[1]))
        data, addr = ws2.recvfrom(r, 10)
        assert data == b"v6" and len(addr) == 4 and addr[0] == "::1", (data, addr)
        assert ws2.getsockopt(r, ws2.SOL_SOCKET, ws2.SO_MAX_MSG_SIZE) == 65527
        err(ws2.WSAEAFNOSUPPORT, ws2.sendto, s, b"x", ("127.0.0.1", a[1]))
        # the same over TCP
        l = ws2.socket(ws2.AF_INET6, ws2.SOCK_STREAM, 0)
        ws2.bind(l, ("::1", 0))
        ws2.listen(l, 2)
        c = ws2.socket(ws2.AF_INET6, ws2.SOCK_STREAM, 0)
        ws2.connect(c, ws2.getsockname(l))
        t, peer = ws2.accept(l)
        assert len(peer) == 4 and peer[0] == "::1", peer
        assert ws2.getpeername(c) == ws2.getsockname(l)
        ws2.send(c, b"six")
        ws2.setsockopt(t, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
        assert ws2.recv(t, 3, ws2.MSG_WAITALL) == b"six"
        for h in (t, c, l, s, r):
            ws2.closesocket(h)
    finally:
        ws2.WSACleanup()
