# Device tests: ws2.compat, the drop-in socket/ssl/tls: the port's own clients through the catalog.
# Runs on CPython and on the board (clients only the board has are skipped on CPython).
# MIT licence; part of ws2 for MicroPython.
import errno
import sys

import ws2

ENV = ("tls_server", "http_server")
TIMEOUT = 180
MICROPYTHON = sys.implementation.name == "micropython"
EX_ID = "{E0A5C1D2-0B7E-4C3A-9F11-2D4B6A8C0E13}"  # the example counting layer


# -- helpers --------------------------------------------------------------------------------

def info(name, chain, typ=1, proto=6):
    flags = 0x26 if typ == 1 else 0x609
    return ws2.WSAProtocolInfo(service_flags1=flags, provider_flags=0x08, protocol_chain=chain, address_family=2,
                               max_sockaddr=16, min_sockaddr=16, socket_type=typ, protocol=proto,
                               protocol_name=name)


def count_first():
    """Put the example counting layer over TCP and UDP, first in the catalog; returns its stats dict."""
    ws2.WSAStartup(0x0202)
    ids = ws2.WSCInstallProvider(EX_ID, "providers.example_lsp",
                                 [info("count layer", ()), info("count TCP", (0, 1001)),
                                  info("count UDP", (0, 1002), 2, 17)])
    order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
    for cid in ids[1:]:
        order.remove(cid)
    ws2.WSCWriteProviderOrder(list(ids[1:]) + order)
    from ws2 import provider

    e = ws2.catalog.by_id(ids[1])
    return provider.for_entry(e).module.stats


def restore():
    from ws2 import compat

    compat.uninstall()
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break
    ws2.catalog.reset()
    ws2.config(tls_ca_file="", tls_verify="app", hosts={})


def board_only(env):
    if not MICROPYTHON:
        env.skip("the port's own client exists only on MicroPython")


def flash_file(name, text):
    if MICROPYTHON:
        path = "/" + name
    else:
        import os

        from ws2 import board

        os.makedirs(board.root(), exist_ok=True)
        path = board.root() + "/" + name
    with open(path, "w") as f:
        f.write(text)
    return path


def expect_errno(code, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        assert e.args[0] == code, "expected errno %r, got %r" % (code, e)
        return e
    raise AssertionError("expected OSError %r" % (code,))


def timeout_error():
    # What the port raises when a socket timeout runs out.
    if not MICROPYTHON:
        import socket

        return socket.timeout
    return OSError


# -- the port's clients, unchanged -----------------------------------------------------------

def test_requests_http(env):
    board_only(env)
    stats = count_first()
    try:
        from ws2 import compat

        compat.install()
        import requests

        base = "http://%s:%d" % (env.host_ip, env.http_port)
        r = requests.get(base + "/hello")
        assert r.status_code == 200 and r.text == env.http_hello
        r = requests.post(base + "/echo", data=b"posted body " * 50)
        assert r.content == b"posted body " * 50
        r = requests.get(base + "/redirect")
        assert r.status_code == 200 and r.text == env.http_hello
        try:
            r = requests.get(base + "/chunked")
            assert r.text == env.http_chunked, r.text
        except ValueError as e:  # releases of requests without chunked support say so the same way on raw sockets
            assert "chunked" in str(e)
        assert stats["sent"] > 0 and stats["received"] >= len(env.http_hello)
        assert "providers.ssllsp" not in sys.modules  # plain sockets never load the TLS layer
    finally:
        restore()


def test_requests_https(env):
    board_only(env)
    stats = count_first()
    try:
        from ws2 import compat

        ws2.config(hosts={env.tls_board_name: env.host_ip},
                   tls_ca_file=flash_file("compat_ca.pem", env.tls_ca_pem))
        compat.install()
        import requests

        url = "https://%s:%d/hello" % (env.tls_board_name, env.https_port)
        sent = stats["sent"]
        r = requests.get(url)  # requests asks for CERT_NONE: honoured
        assert r.text == env.http_hello
        assert stats["sent"] > sent  # the TLS records went down through the counting layer
        assert "providers.ssllsp" in sys.modules
        ws2.config(tls_verify="always")  # the board's policy: every connection verifies
        assert requests.get(url).text == env.http_hello  # the right CA and name
        r = requests.get("https://%s:%d/redirect" % (env.tls_board_name, env.https_port))
        assert r.text == env.http_hello
        try:
            requests.get("https://%s:%d/hello" % (env.host_ip, env.https_port))  # the name does not match
            raise AssertionError("a wrong peer name was accepted under tls_verify=always")
        except OSError:
            pass
        ws2.config(tls_verify="app")
        assert requests.get("https://%s:%d/hello" % (env.host_ip, env.https_port)).text == env.http_hello
    finally:
        restore()


def test_install_keeps_the_ports_modules(env):
    board_only(env)
    try:
        from ws2 import compat, compat_ssl, compat_tls, native

        compat.install()
        import socket
        import ssl
        import tls
        import usocket

        assert socket is compat and usocket is compat and tls is compat_tls and ssl is compat_ssl
        assert native.socket is not compat and native.tls is not compat_tls
        s = socket.socket()  # wspm, imported only now, binds the port's module, not the drop-in
        assert sys.modules["providers.wspm"]._so is native.socket
        s.close()
        compat.uninstall()
        import socket

        assert socket is native.socket
    finally:
        restore()


def test_mip_install(env):
    board_only(env)
    stats = count_first()
    try:
        from ws2 import compat

        compat.install()
        import mip

        mip.install("ws2demo", index="http://%s:%d" % (env.host_ip, env.http_port), target="/mipdemo", mpy=False)
        with open("/mipdemo/ws2demo.py") as f:
            assert f.read() == "VALUE = %d\n" % env.mip_value
        assert stats["received"] > 0
    finally:
        import os

        try:
            os.remove("/mipdemo/ws2demo.py")
            os.rmdir("/mipdemo")
        except OSError:
            pass
        restore()


def _aio_client(env, tls):
    import asyncio

    import ssl

    async def main():
        if tls:
            r, w = await asyncio.open_connection(env.host_ip, env.tls_echo_port, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        else:
            r, w = await asyncio.open_connection(env.host_ip, env.tcp_echo_port)
        w.write(b"hello asyncio\n")
        await w.drain()
        line = await r.readline()
        w.close()
        await w.wait_closed()
        return line

    return asyncio.run(main())


def test_asyncio_open_connection(env):
    board_only(env)
    stats = count_first()
    try:
        from ws2 import compat

        compat.install()
        assert _aio_client(env, False) == b"hello asyncio\n"
        n = stats["sent"]
        assert n >= 14
        assert _aio_client(env, True) == b"hello asyncio\n"
        assert stats["sent"] > n + 14  # handshake and records through the layer under ssllsp
    finally:
        restore()


def _aio_server(env, tls):
    import asyncio

    import socket
    import ssl

    probe = socket.socket()
    probe.bind(("0.0.0.0", 0))
    port = probe.getsockname()[1]
    probe.close()
    ctx = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(env.tls_board_cert_pem.encode(), env.tls_board_key_pem.encode())

    async def serve(r, w):
        line = await r.readline()
        w.write(b"echo " + line)
        await w.drain()
        w.close()
        await w.wait_closed()

    async def main():
        srv = await asyncio.start_server(serve, "0.0.0.0", port, ssl=ctx)
        r, w = await asyncio.open_connection(env.host_ip, env.clients_port)
        w.write(b"CLIENTS %d %d\n" % (port, 1 if tls else 0))
        await w.drain()
        report = await r.readline()
        w.close()
        srv.close()
        await srv.wait_closed()
        return report

    return asyncio.run(main())


def test_asyncio_start_server(env):
    board_only(env)
    stats = count_first()
    try:
        from ws2 import compat

        compat.install()
        got = _aio_server(env, False)
        assert got == b"OK echo ping 1|echo ping 2\n", got
        n = stats["received"]
        got = _aio_server(env, True)
        assert got == b"OK echo ping 1|echo ping 2\n", got
        assert stats["received"] > n + 400  # the two handshakes came up through the layer
    finally:
        restore()


def test_http_client(env):
    if MICROPYTHON:
        env.skip("http.client is CPython's")
    stats = count_first()
    try:
        import http.client

        from ws2 import compat

        conn = http.client.HTTPConnection(env.host_ip, env.http_port, timeout=10)
        conn._create_connection = compat.create_connection  # what compat.install() would give it
        conn.request("POST", "/echo", body=b"posted through http.client")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"posted through http.client"
        conn.close()
        assert stats["sent"] > 0 and stats["received"] > 0
    finally:
        restore()


# -- the drop-in itself (CPython and the board) -------------------------------------------------

def test_ntp_shaped_udp(env):
    stats = count_first()
    try:
        from ws2 import compat as socket

        addr = socket.getaddrinfo(env.host_ip, env.udp_echo_port)[0][-1]
        assert addr == (env.host_ip, env.udp_echo_port)
        q = bytearray(48)
        q[0] = 0x1B
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(5)
            assert s.sendto(q, addr) == 48
            msg = s.recv(48)
            assert msg == q
            assert s.sendto(q, addr) == 48
            data, frm = s.recvfrom(64)
            assert data == q and frm == addr
        finally:
            s.close()
        assert stats["sent"] >= 96 and stats["received"] >= 96
    finally:
        restore()


def test_getaddrinfo_shapes(env):
    try:
        from ws2 import compat as socket

        ai = socket.getaddrinfo("0.0.0.0", 80)
        assert ai[0][0] == socket.AF_INET and ai[0][-1] == ("0.0.0.0", 80)
        ai = socket.getaddrinfo("127.0.0.1", 8080, 0, socket.SOCK_STREAM)
        assert ai[0][1] == socket.SOCK_STREAM and ai[0][-1] == ("127.0.0.1", 8080)
        ws2.config(hosts={"compat.ws2.test": env.host_ip})
        ai = socket.getaddrinfo("compat.ws2.test", 443, 0, socket.SOCK_STREAM)
        assert ai[0][1] == socket.SOCK_STREAM and ai[0][-1] == (env.host_ip, 443), ai
        try:
            socket.getaddrinfo("no-such-name.invalid", 80)
            raise AssertionError("an unknown name resolved")
        except OSError:
            pass
    finally:
        restore()


def _pair():
    from ws2 import compat as socket

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(2)
    port = srv.getsockname()[1]
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    a, _ = srv.accept()
    srv.close()
    return c, a


def test_poll_states(env):
    import select

    stats = count_first()
    try:
        from ws2 import compat as socket

        s = socket.socket()
        s.connect((env.host_ip, env.tcp_echo_port))
        if MICROPYTHON and hasattr(s._pl, "fileno"):
            assert s.ioctl(10, 0) == s._pl.fileno()  # the kernel waits: no busy polling
        p = select.poll()
        p.register(s, select.POLLIN)
        assert p.poll(0) == []  # not ready
        s.write(b"ping")
        got = p.poll(5000)
        assert len(got) == 1 and got[0][1] & select.POLLIN
        assert s.read(4) == b"ping"
        p.unregister(s)
        s.close()
        assert stats["sent"] >= 4
        if MICROPYTHON:  # (CPython cannot register a closed socket at all)
            p.register(s, select.POLLIN)
            got = p.poll(0)
            assert got and got[0][1] & 0x20, got  # closed: POLLNVAL
            p.unregister(s)
        # peer closed (reset): HUP
        c, a = _pair()
        ws2.setsockopt(a._h, ws2.SOL_SOCKET, ws2.SO_LINGER, (1, 0))
        a.close()
        p.register(c, select.POLLIN)
        got = p.poll(5000)
        assert got and got[0][1] & (select.POLLHUP | select.POLLERR), got
        p.unregister(c)
        c.close()
    finally:
        restore()


def test_errors_are_the_ports(env):
    try:
        from ws2 import compat as socket

        s = socket.socket()
        expect_errno(errno.ECONNREFUSED, s.connect, (env.host_ip, env.closed_port))
        s.close()
        s = socket.socket()
        s.setblocking(False)
        expect_errno(errno.EINPROGRESS, s.connect, (env.host_ip, env.tcp_echo_port))
        s.close()
        c, a = _pair()
        c.settimeout(0.2)
        try:
            c.recv(10)
            raise AssertionError("recv did not time out")
        except OSError as e:
            assert isinstance(e, timeout_error())
            if MICROPYTHON:
                assert e.args[0] in (errno.ETIMEDOUT, errno.EAGAIN)
        c.settimeout(0)
        expect_errno(errno.EAGAIN, c.recv, 10)
        assert c.read(10) is None and c.readline() is None
        ws2.setsockopt(a._h, ws2.SOL_SOCKET, ws2.SO_LINGER, (1, 0))
        a.close()
        c.settimeout(5)
        expect_errno(errno.ECONNRESET, c.recv, 10)
        c.close()
        c.close()  # idempotent
        expect_errno(errno.EBADF, c.send, b"x")
    finally:
        restore()


def test_stream_methods(env):
    try:
        from ws2 import compat as socket

        c, a = _pair()
        assert c.makefile("rwb", 0) is c
        assert c.write(b"0123456789", 4) == 4
        assert c.write(b"0123456789", 4, 3) == 3
        assert c.write("text\nline two\n") == 14
        assert a.read(7) == b"0123456"
        assert a.readline() == b"text\n"
        buf = bytearray(20)
        assert a.readinto(memoryview(buf)[2:6]) == 4
        assert buf[2:6] == b"line"
        assert a.readline() == b" two\n"
        c.sendall(b"x" * 5000)
        assert len(a.read(5000)) == 5000
        c.close()
        assert a.read() == b""  # the end of the stream
        a.close()
    finally:
        restore()


def test_plain_after_tls_has_no_tls(env):
    try:
        from ws2 import compat as socket
        from ws2 import compat_tls as tls

        ws2.config(tls_ca_file=flash_file("compat_ca.pem", env.tls_ca_pem))
        s = socket.socket()
        s.connect((env.host_ip, env.tls_echo_port))
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=env.tls_ca_pem.encode())
        s = ctx.wrap_socket(s, server_hostname=env.tls_name)
        s.write(b"secret\n")
        import time

        time.sleep(0.3)
        assert s.ioctl(10, 0) == -1  # decrypted bytes wait above the kernel: the layer answers POLL
        assert s.readline() == b"secret\n"
        assert s.ioctl(10, 0) == s._pl.fileno()  # nothing above the kernel: the kernel waits
        s.close()
        # micropython-lib's ssl.wrap_socket, the form umqtt uses, trusting the board's tls_ca_file
        from ws2 import compat_ssl

        s = socket.socket()
        s.connect((env.host_ip, env.tls_echo_port))
        s = compat_ssl.wrap_socket(s, server_hostname=env.tls_name, cert_reqs=compat_ssl.CERT_REQUIRED)
        s.write(b"again\n")
        assert s.readline() == b"again\n"
        s.close()
        # a socket of the port's own module keeps the port's TLS
        from ws2 import native

        n = native.socket.socket()
        n.connect(native.socket.getaddrinfo(env.host_ip, env.tls_echo_port)[0][-1])
        ns = ctx.wrap_socket(n, server_hostname=env.tls_name)
        assert not isinstance(ns, socket.socket)
        if MICROPYTHON:
            ns.write(b"native\n")
            assert ns.readline() == b"native\n"
        else:
            ns.sendall(b"native\n")
            assert ns.recv(7) == b"native\n"
        ns.close()
        p = socket.socket()
        assert not p._tls and p._sk is not None
        p.connect((env.host_ip, env.tcp_echo_port))
        p.write(b"plain\n")
        assert p.readline() == b"plain\n"
        p.close()
        # an untrusted server under the same context fails with the port's TLS error
        s = socket.socket()
        s.connect((env.host_ip, env.tls_untrusted_port))
        try:
            ctx.wrap_socket(s, server_hostname=env.tls_name)
            raise AssertionError("an untrusted certificate was accepted")
        except OSError:
            pass
        s.close()
    finally:
        restore()


def test_plain_does_not_load_tls(env):
    try:
        from ws2 import compat as socket

        s = socket.socket()
        s.connect((env.host_ip, env.tcp_echo_port))
        s.write(b"x")
        assert s.read(1) == b"x"
        s.close()
        assert "providers.ssllsp" not in sys.modules
    finally:
        restore()


def _outcome(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return ("OSError", e.args[0] if e.args else None)
    except Exception as e:
        return (type(e).__name__, None)
    return ("ok", None)


def test_bad_input_like_the_port(env):
    from ws2 import native

    from ws2 import compat

    cases = (
        ("send", ("text",)), ("send", (None,)), ("send", (12,)), ("recv", ("x",)), ("recv", (None,)),
        ("connect", (("127.0.0.1",),)), ("connect", (12,)), ("bind", ("nope",)), ("settimeout", ("x",)),
        ("setblocking", (None,)), ("sendto", (b"x", 5)), ("write", (12,)), ("read", ("x",)),
        ("readinto", (b"immutable",)),
    )
    try:
        for name, args in cases:
            for closed in (False, True):
                got = []
                for mod in (native.socket, compat):
                    s = mod.socket()
                    if closed:
                        s.close()
                    if hasattr(s, name):
                        got.append(_outcome(getattr(s, name), *args))
                    s.close()
                if len(got) == 2 and got[0][0] != "ok":
                    assert got[0][0] == got[1][0] and (got[0][1] is None or got[0][1] == got[1][1]), \
                        "%s%r%s: port %r, drop-in %r" % (name, args, " (closed)" if closed else "", got[0], got[1])
    finally:
        restore()


def test_no_handle_leaks(env):
    try:
        from ws2 import compat as socket
        from ws2 import handles

        s = socket.socket()
        s.close()
        before = len(handles.open_handles())
        for _ in range(1000):
            s = socket.socket()
            try:
                s.connect((env.host_ip, env.closed_port))
            except OSError as e:
                assert e.args[0] == errno.ECONNREFUSED
            s.close()
        assert len(handles.open_handles()) == before
    finally:
        restore()
