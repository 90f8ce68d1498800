# Bench: TLS against the host's TLS echo (test CA, certificate verified): connect + handshake and 4 KB
# echo throughput, raw `ssl` against ws2 with ssllsp (SO_SECURE). MIT licence; part of ws2 for MicroPython.
# Runs after bench_lib.py.
start()
T = P["tls"]
_N = P["tls_n"]
_BIG = bytearray(4096)
_IN = bytearray(4096)
_CA_FILE = "/bench_ca.pem"
_socks = []


def _raw_ctx():
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=T["ca_der"])
    return ctx


def raw_connect(ctx, addr):
    k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        k.connect(addr)
        return ctx.wrap_socket(k, server_hostname=T["name"])
    except Exception:
        k.close()
        raise


def _c(name, default):
    return getattr(ws2, name, default)


_chain = []


def chain_info():
    """The catalog's ssllsp chain entry for IPv4 (a layered chain with the SSL security scheme)."""
    if not _chain:
        for p in ws2.WSCEnumProtocols():
            if (p.security_scheme == _c("SECURITY_PROTOCOL_SSL", 1) and len(p.protocol_chain) > 1
                    and p.address_family == ws2.AF_INET and p.socket_type == ws2.SOCK_STREAM):
                _chain.append(p)
                break
        else:
            raise OSError("no ssllsp chain entry in the catalog")
    return _chain[0]


def ws2_connect():
    s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, chain_info())
    try:
        ws2.setsockopt(s, ws2.SOL_SOCKET, _c("SO_SECURE", 0x2001), _c("SO_SEC_SSL", 0x2004))
        ws2.WSAIoctl(s, _c("SO_SSL_SET_PEERNAME", 0x9073000F), T["name"])
        ws2.connect(s, (HOST, T["port"]))
        return s
    except Exception:
        ws2.closesocket(s)
        raise


def ssllsp_ready():
    try:
        __import__("providers.ssllsp")
    except ImportError as e:
        raise OSError("ssllsp is not available: %s" % why(e))
    chain_info()
    with open(_CA_FILE, "w") as f:
        f.write(T["ca_pem"])
    ws2.config(tls_ca_file=_CA_FILE)


def handshake():
    fid = "tls_handshake"

    def make_raw():
        ctx = _raw_ctx()
        addr = raw_addr(HOST, T["port"])

        def run():
            total = 0
            for _ in range(_N):
                t = _us()
                ss = raw_connect(ctx, addr)
                total += _diff(_us(), t)
                ss.close()
            return total / _N / 1000

        run()
        return run

    def make_ws2():
        ssllsp_ready()

        def run():
            total = 0
            for _ in range(_N):
                t = _us()
                s = ws2_connect()
                total += _diff(_us(), t)
                ws2.closesocket(s)
            return total / _N / 1000

        run()
        return run

    pair(fid, make_raw, make_ws2)


def bulk():
    fid = "tls_bulk"
    count = max(1, P["tls_bytes"] // 4096)
    total = count * 4096
    out_ = memoryview(_BIG)
    in_ = memoryview(_IN)

    def make_raw():
        ss = raw_connect(_raw_ctx(), raw_addr(HOST, T["port"]))
        _socks.append(ss)
        return tls_echo_rate(ss.write, ss.readinto, out_, in_, count)

    def make_ws2():
        ssllsp_ready()
        s = ws2_connect()
        _socks.append(s)
        send = ws2.send
        recv = ws2.recv

        def run():
            t = _us()
            for _ in range(count):
                send(s, out_)
                got = 0
                while got < 4096:
                    d = recv(s, 4096 - got)
                    if not d:
                        raise OSError("the TLS echo closed")
                    got += len(d)
            return total / _diff(_us(), t)

        run()
        return run

    # One TLS session at a time: two of them (mbedTLS buffers on the heap) do not fit the budget.
    each_alone(fid, (("raw", make_raw), ("ws2", make_ws2)), _socks)


_old_ca = ws2.config().get("tls_ca_file") or ""
try:
    if T is None:
        for _fid in ("tls_handshake", "tls_bulk"):
            for _side in ("raw", "ws2"):
                out("miss", _fid, _side, P["tls_missing"] or "no TLS server")
    else:
        handshake()
        bulk()
finally:
    while _socks:
        close(_socks.pop())
    try:
        ws2.config(tls_ca_file=_old_ca)
    except Exception:
        pass
    ws2.WSACleanup()
