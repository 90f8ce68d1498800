# Device tests: the capture layer in chains: over faults over wspm, above and below ssllsp (plaintext or TLS
# records), switched at run time, and at no cost to sockets not on its chains. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import sys

import ws2

ENV = ("tls_server",)
TIMEOUT = 120


def _path():
    from ws2 import board

    return board.root() + "/chains.pcap"


def _read():
    data = b""
    for p in (_path(), _path() + ".1"):
        try:
            with open(p, "rb") as f:
                data += f.read()
        except OSError:
            pass
    return data


def _fresh():
    import os

    ws2.catalog.reset()
    for p in (_path(), _path() + ".1"):
        try:
            os.remove(p)
        except OSError:
            pass


def _stop(**restore):
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break
    settings = {"capture": {}, "faults": {}}
    settings.update(restore)
    ws2.config(**settings)
    ws2.catalog.reset()


def _echo(env, s, data):
    i = 0
    while i < len(data):
        i += ws2.send(s, data[i:])
    got = b""
    while len(got) < len(data):
        got += ws2.recv(s, 100)
    return got


def _info(cid):
    return [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == cid][0]


def test_capture_over_faults_over_wspm(env):
    from providers import lspinst

    _fresh()
    f = lspinst.install("faults", [1001])
    c = lspinst.install("capture", f, first=True)
    assert _info(c[0]).protocol_chain[1:] == _info(f[0]).protocol_chain  # capture, faults, wspm
    ws2.config(capture={"file": _path(), "kb": 16}, faults={"*": {"split_send": 4}})
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        assert ws2.send(s, b"0123456789") == 4  # faults below cut the write; capture records what went
        got = b""
        while len(got) < 4:
            got += ws2.recv(s, 4 - len(got))
        assert got == b"0123"
        assert _echo(env, s, b"456789") == b"456789"
        st = ws2.WSAIoctl(s, ws2.SIO_CAPTURE_STATUS)
        counts = ws2.WSAIoctl(s, ws2.SIO_FAULTS_GET)  # passed down through capture to faults
        ws2.closesocket(s)
        assert st[0] and st[1] >= 6, st
        assert counts["short_send"] >= 2, counts
    finally:
        _stop()
    data = _read()
    assert b"0123" in data and b"4567" in data and b"0123456789" not in data


def test_switching_at_run_time_and_no_cost_elsewhere(env):
    from providers import lspinst

    _fresh()
    c = lspinst.install("capture", [1001])  # not first: plain sockets stay on wspm
    ws2.WSAStartup(0x0202)
    try:
        plain = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        assert "providers.capture" not in sys.modules  # loaded only for a socket on its chain
        s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, _info(c[0]))
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        ws2.connect(plain, (env.host_ip, env.tcp_echo_port))
        assert ws2.WSAIoctl(s, ws2.SIO_CAPTURE_STATUS)[0] is False  # nothing configured: not capturing
        _echo(env, s, b"before")
        ws2.WSAIoctl(s, ws2.SIO_CAPTURE_START, {"file": _path(), "kb": 8})
        _echo(env, s, b"during")
        _echo(env, plain, b"elsewhere")  # a plain socket is never seen
        ws2.WSAIoctl(s, ws2.SIO_CAPTURE_FLUSH)
        ws2.WSAIoctl(s, ws2.SIO_CAPTURE_STOP)
        _echo(env, s, b"after")
        e = None
        try:
            ws2.WSAIoctl(s, ws2.SIO_CAPTURE_START, {"kb": 1})
        except ws2.WSAError as x:
            e = x
        assert e is not None and e.errno == ws2.WSAEINVAL and "kb" in str(e), e
        for h in (s, plain):
            ws2.closesocket(h)
    finally:
        _stop()
    data = _read()
    assert b"during" in data and b"before" not in data and b"after" not in data and b"elsewhere" not in data


def _tls(env, info):
    s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, info)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_SECURE, ws2.SO_SEC_SSL)
    ws2.WSAIoctl(s, ws2.SO_SSL_SET_PEERNAME, env.tls_name)
    ws2.connect(s, (env.host_ip, env.tls_echo_port))
    assert _echo(env, s, b"secret plaintext") == b"secret plaintext"
    ws2.closesocket(s)


def _ca(env):
    from ws2 import board

    import os

    try:
        os.mkdir(board.root())
    except OSError:
        pass
    with open(board.root() + "/ca.pem", "w") as f:
        f.write(env.tls_ca_pem)
    ws2.config(tls_ca_file=board.root() + "/ca.pem")


def test_capture_above_ssllsp_records_plaintext(env):
    from providers import lspinst

    _fresh()
    _ca(env)
    tls_chain = [p for p in ws2.WSCEnumProtocols() if p.security_scheme and len(p.protocol_chain) > 1
                 and p.address_family == ws2.AF_INET][0]
    c = lspinst.install("capture", [tls_chain.catalog_entry_id])  # capture, ssllsp, wspm
    ws2.config(capture={"file": _path(), "kb": 16})
    ws2.WSAStartup(0x0202)
    try:
        _tls(env, _info(c[0]))
    finally:
        _stop(tls_ca_file="")
    data = _read()
    assert b"secret plaintext" in data


def test_capture_below_ssllsp_records_tls_records(env):
    from providers import lspinst

    _fresh()
    _ca(env)
    c = lspinst.install("capture", [1001])
    t = lspinst.ssllsp_over(c[0])  # ssllsp, capture, wspm
    ws2.config(capture={"file": _path(), "kb": 16})
    ws2.WSAStartup(0x0202)
    try:
        _tls(env, _info(t))
    finally:
        _stop(tls_ca_file="")
    data = _read()
    assert b"secret plaintext" not in data
    assert b"\x16\x03" in data and b"\x17\x03\x03" in data  # a handshake record and application data records
