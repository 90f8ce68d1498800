# Device tests: the first path through the router (WSAStartup -> socket -> connect -> send/recv -> close).
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2

JUNK = 12345  # set as last error before a call that must overwrite it


def _echo(env, size, chunk=1024):
    # Stream a 256-periodic pattern and check it as it comes back: two 64 KB
    # buffers would not fit a board's heap, and a board's small TCP window
    # would deadlock a 64 KB send that is not read back meanwhile.
    pattern = bytearray(256 + chunk)
    for i in range(len(pattern)):
        pattern[i] = (i * 7 + 3) & 0xFF
    pat = memoryview(pattern)
    buf = bytearray(chunk)
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        sent = received = 0
        while received < size:
            if sent < size:
                n = min(chunk, size - sent)
                sent += ws2.send(s, pat[sent & 255 : (sent & 255) + n])
            while received < sent:
                n = ws2.recv_into(s, buf, min(chunk, sent - received))
                assert n > 0, "peer closed early"
                off = received & 255
                assert buf[:n] == pattern[off : off + n], "corrupt data at offset %d" % received
                received += n
        assert received == size
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()


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


def test_calls_before_startup_fail(env):
    while True:  # make sure nothing earlier left ws2 started
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break
    for call in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0), lambda: ws2.send(257, b"x"),
                 lambda: ws2.WSAEnumProtocols(), lambda: ws2.WSACleanup()):
        ws2.WSASetLastError(JUNK)
        try:
            call()
            raise AssertionError("call before WSAStartup succeeded")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSANOTINITIALISED, e
        assert ws2.WSAGetLastError() == ws2.WSANOTINITIALISED


def test_error_is_oserror_with_message(env):
    try:
        ws2.send(257, b"x")
    except OSError as e:
        assert isinstance(e, ws2.WSAError)
        assert "10093" in str(e) and "WSAStartup" in str(e)
