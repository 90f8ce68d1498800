# Device tests: ws2/dispatch, the one shape of every call on a socket: the first path through the router
# (WSAStartup -> socket -> connect -> send/recv -> close), closed handles, and bad input on every public
# function (wrong types, negative and oversized sizes, None for a buffer) is a WSA error with the last error
# set while the socket stays usable. Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import JUNK, recv_exact, stop, stream_echo

TIMEOUT = 90

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_socket_functions_refuse_bad_input_and_the_socket_survives': 'no network on the emulated board',
}}


def _echo(env, size):
    # stream_echo sends a pattern and checks it as it comes back: two 64 KB
    # buffers would not fit a board's heap, and a board's small TCP window
    # would deadlock a 64 KB send that is not read back meanwhile.
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        stream_echo(s, size)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


F, I = ws2.WSAEFAULT, ws2.WSAEINVAL


def _check(label, fn, allowed):
    ws2.WSASetLastError(JUNK)
    try:
        fn()
    except ws2.WSAError as e:
        assert e.errno in allowed, "%s: got %r, expected one of %r" % (label, e, allowed)
        assert ws2.WSAGetLastError() == e.errno, (label, ws2.WSAGetLastError())
        return
    except Exception as e:
        raise AssertionError("%s: raised %r, not a WSAError" % (label, e))
    raise AssertionError("%s: succeeded" % label)


def _tcp_roundtrip(s, data):
    assert ws2.send(s, data) == len(data)
    assert recv_exact(s, len(data)) == data


def _udp_roundtrip(u, data):
    assert ws2.send(u, data) == len(data)
    assert ws2.recv(u, 64) == data


def test_echo_1_byte(env):
    _echo(env, 1)


def test_echo_1k(env):
    _echo(env, 1024)


def test_echo_64k(env):
    _echo(env, 65536)


def test_recv_returns_bytes(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        assert ws2.send(s, b"ping") == 4
        got = b""
        while len(got) < 4:
            got += ws2.recv(s, 16)
        assert got == b"ping" and isinstance(got, bytes)
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_connect_refused(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.WSASetLastError(JUNK)
        try:
            ws2.connect(s, (env.host_ip, env.closed_port))
            raise AssertionError("connect to a closed port succeeded")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAECONNREFUSED, e
        assert ws2.WSAGetLastError() == ws2.WSAECONNREFUSED
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


def test_closed_handle_is_not_a_socket(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.closesocket(s)
        for call in (lambda: ws2.send(s, b"x"), lambda: ws2.recv(s, 1), lambda: ws2.closesocket(s)):
            ws2.WSASetLastError(JUNK)
            try:
                call()
                raise AssertionError("a call on a closed handle succeeded")
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAENOTSOCK, e
            assert ws2.WSAGetLastError() == ws2.WSAENOTSOCK
        # a new socket may reuse the slot, but never the old handle value
        t = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        assert t != s
        ws2.closesocket(t)
    finally:
        ws2.WSACleanup()


def test_no_startup_functions_refuse_bad_input():
    stop()
    rows = (
        ("WSAStartup str", lambda: ws2.WSAStartup("2.2"), (I,)),
        ("WSASetLastError str", lambda: ws2.WSASetLastError("x"), (I,)),
        ("htons str", lambda: ws2.htons("80"), (I,)),
        ("htons negative", lambda: ws2.htons(-80), (I,)),
        ("ntohl oversized", lambda: ws2.ntohl(1 << 33), (I,)),
        ("inet_pton None", lambda: ws2.inet_pton(ws2.AF_INET, None), (F,)),
        ("inet_ntop None", lambda: ws2.inet_ntop(ws2.AF_INET, None), (F,)),
        ("inet_ntop short", lambda: ws2.inet_ntop(ws2.AF_INET6, b"\x00" * 15), (I,)),
        ("WSCEnumProtocols str", lambda: ws2.WSCEnumProtocols("tcp"), (F,)),
        ("WSCInstallProvider None", lambda: ws2.WSCInstallProvider(None, None, None), (I,)),
        ("WSCDeinstallProvider int", lambda: ws2.WSCDeinstallProvider(5), (I,)),
        ("WSCWriteProviderOrder None", lambda: ws2.WSCWriteProviderOrder(None), (I,)),
        ("WSCGetProviderPath None", lambda: ws2.WSCGetProviderPath(None), (I,)),
        ("WSCUpdateProvider bad", lambda: ws2.WSCUpdateProvider("{x}", "p", []), (I,)),
        ("config unknown", lambda: ws2.config(nope=1), (I,)),
        ("config type", lambda: ws2.config(dns_timeout_ms="1"), (I,)),
        ("socket before startup", lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0), (ws2.WSANOTINITIALISED,)),
        ("WSAStringToAddress before startup", lambda: ws2.WSAStringToAddress("1.2.3.4", 2), (ws2.WSANOTINITIALISED,)),
    )
    for label, fn, allowed in rows:
        _check(label, fn, allowed)


def test_socket_functions_refuse_bad_input_and_the_socket_survives(env):
    stop()
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.connect(u, (env.host_ip, env.udp_echo_port))
        f = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)  # fresh, never connected
        _tcp_roundtrip(s, b"before")
        _udp_roundtrip(u, b"before")
        buf = bytearray(8)
        OPT = (F, I, ws2.WSAENOPROTOOPT)  # option calls: wspm's own validation may answer first
        rows = (
            # creation
            ("WSASocket str af", lambda: ws2.WSASocket("2", 1, 6), (I,)),
            ("WSASocket float type", lambda: ws2.WSASocket(2, 1.0, 6), (I,)),
            ("WSASocket None proto", lambda: ws2.WSASocket(2, 1, None), (I,)),
            ("WSASocket bool af", lambda: ws2.WSASocket(True, 1, 6), (I,)),
            ("WSASocket bad flags", lambda: ws2.WSASocket(2, 1, 6, None, 0, 0x100000), (I,)),
            ("WSASocket str group", lambda: ws2.WSASocket(2, 1, 6, None, "g", 0), (I,)),
            ("WSASocket bad info", lambda: ws2.WSASocket(0, 0, 0, ("not", "info")), (F,)),
            ("WSAEnumProtocols int", lambda: ws2.WSAEnumProtocols(6), (F,)),
            ("WSAEnumProtocols [None]", lambda: ws2.WSAEnumProtocols([None]), (F,)),
            # handles of the wrong kind
            ("send None handle", lambda: ws2.send(None, b"x"), (ws2.WSAENOTSOCK,)),
            ("recv str handle", lambda: ws2.recv("s", 1), (ws2.WSAENOTSOCK,)),
            ("closesocket float", lambda: ws2.closesocket(1.5), (ws2.WSAENOTSOCK,)),
            ("getsockname negative", lambda: ws2.getsockname(-s), (ws2.WSAENOTSOCK,)),
            # data transfer
            ("send None", lambda: ws2.send(s, None), (F,)),
            ("send int", lambda: ws2.send(s, 5), (F,)),
            ("send str", lambda: ws2.send(s, "text"), (F,)),
            ("send str flags", lambda: ws2.send(s, b"x", "0"), (F, I, ws2.WSAEOPNOTSUPP)),
            ("send unknown flags", lambda: ws2.send(s, b"x", 0x10000), (I, ws2.WSAEOPNOTSUPP)),
            ("recv negative", lambda: ws2.recv(s, -1), (I,)),
            ("recv None", lambda: ws2.recv(s, None), (F, I)),
            ("recv str", lambda: ws2.recv(s, "8"), (F, I)),
            ("recv float", lambda: ws2.recv(s, 8.0), (F, I)),
            ("recv_into None", lambda: ws2.recv_into(s, None), (F,)),
            ("recv_into int", lambda: ws2.recv_into(s, 5), (F,)),
            ("recv_into negative n", lambda: ws2.recv_into(s, buf, -1), (I,)),
            ("recv_into oversized n", lambda: ws2.recv_into(s, buf, 9), (F,)),
            ("recv_into None with n", lambda: ws2.recv_into(s, None, 4), (F,)),
            ("WSASend None", lambda: ws2.WSASend(s, None), (F,)),
            ("WSASend list with None", lambda: ws2.WSASend(s, [b"a", None]), (F,)),
            ("WSARecv None", lambda: ws2.WSARecv(s, None), (F,)),
            ("WSARecv list with None", lambda: ws2.WSARecv(s, [buf, None]), (F,)),
            ("WSARecv negative", lambda: ws2.WSARecv(s, -3), (I,)),
            ("sendto None", lambda: ws2.sendto(u, None, (env.host_ip, env.udp_echo_port)), (F,)),
            ("sendto str addr", lambda: ws2.sendto(u, b"x", "127.0.0.1:9"), (F,)),
            ("sendto short addr", lambda: ws2.sendto(u, b"x", ("127.0.0.1",)), (F,)),
            ("sendto str port", lambda: ws2.sendto(u, b"x", ("127.0.0.1", "9")), (F,)),
            ("sendto negative port", lambda: ws2.sendto(u, b"x", ("127.0.0.1", -1)), (I,)),
            ("sendto port too big", lambda: ws2.sendto(u, b"x", ("127.0.0.1", 70000)), (I,)),
            ("WSASendTo None addr", lambda: ws2.WSASendTo(u, b"x", 5), (F,)),
            ("recvfrom negative", lambda: ws2.recvfrom(u, -1), (I,)),
            ("recvfrom None", lambda: ws2.recvfrom(u, None), (F, I)),
            ("WSARecvFrom None", lambda: ws2.WSARecvFrom(u, None), (F,)),
            # connection and control
            ("connect None", lambda: ws2.connect(f, None), (F,)),
            ("connect str", lambda: ws2.connect(f, "127.0.0.1:80"), (F,)),
            ("connect str port", lambda: ws2.connect(f, ("127.0.0.1", "80")), (F,)),
            ("connect port too big", lambda: ws2.connect(f, ("127.0.0.1", 1 << 20)), (I,)),
            ("bind None", lambda: ws2.bind(f, None), (F,)),
            ("bind negative port", lambda: ws2.bind(f, ("0.0.0.0", -5)), (I,)),
            ("listen on UDP", lambda: ws2.listen(u, 1), (ws2.WSAEOPNOTSUPP,)),
            ("listen str backlog", lambda: ws2.listen(f, "5"), (I,)),
            ("WSAAccept not callable", lambda: ws2.WSAAccept(f, 5), (F,)),
            ("accept not listening", lambda: ws2.accept(f), (I,)),
            ("shutdown bad how", lambda: ws2.shutdown(s, 7), (I, ws2.WSAEOPNOTSUPP)),
            ("shutdown str how", lambda: ws2.shutdown(s, "both"), (F, I, ws2.WSAEOPNOTSUPP)),
            ("getsockopt str level", lambda: ws2.getsockopt(s, "sol", 4), OPT),
            ("getsockopt unknown", lambda: ws2.getsockopt(s, ws2.SOL_SOCKET, 0x7777), OPT),
            ("setsockopt None value", lambda: ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, None), OPT),
            ("setsockopt str value", lambda: ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_KEEPALIVE, "on"), OPT),
            ("ioctlsocket unknown", lambda: ws2.ioctlsocket(s, 0x12345678, 0), (I, ws2.WSAEOPNOTSUPP)),
            ("ioctlsocket str cmd", lambda: ws2.ioctlsocket(s, "FIONBIO", 1), (F, I, ws2.WSAEOPNOTSUPP)),
            ("WSAIoctl None code", lambda: ws2.WSAIoctl(s, None), (F, I, ws2.WSAEOPNOTSUPP)),
            ("getpeername unconnected", lambda: ws2.getpeername(f), (ws2.WSAENOTCONN,)),
            ("WSAStringToAddress None", lambda: ws2.WSAStringToAddress(None, 2), (F,)),
            ("WSAAddressToString str", lambda: ws2.WSAAddressToString("1.2.3.4"), (F,)),
        )
        for label, fn, allowed in rows:
            _check(label, fn, allowed)
        rows = None
        import gc

        gc.collect()
        try:
            big = bytearray(65508)  # one byte more than a UDP datagram holds
        except MemoryError:
            big = None  # a board heap may not have 64 KB in one piece; the check is then CPython's
        if big is not None:
            _check("sendto oversized datagram", lambda: ws2.sendto(u, big, (env.host_ip, env.udp_echo_port)),
                   (ws2.WSAEMSGSIZE,))
            big = None
        # everything still works: same sockets, same data paths
        _tcp_roundtrip(s, b"after all that")
        _udp_roundtrip(u, b"after all that")
        n = ws2.send(s, b"into")
        k = 0
        while k < n:
            k += ws2.recv_into(s, memoryview(buf)[k:], n - k)
        assert bytes(buf[:4]) == b"into"
        for x in (s, u, f):
            ws2.closesocket(x)
    finally:
        stop()


def test_int_subclasses_are_ints():
    # CPython's socket.AF_INET is an IntEnum: an int, so WSASocket takes it (bools are refused above).
    import socket

    stop()
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(socket.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.closesocket(s)
    finally:
        stop()
