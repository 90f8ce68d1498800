# Bench: profile of the hot paths, layer by layer: us and heap bytes per call of the raw socket, of wspm's
# proc-table entry called directly (provider, no router), of the ws2 call (router + provider), and of the
# pieces in between (handle lookup, dispatch, helpers). MIT licence; part of ws2 for MicroPython.
# Runs after bench_lib.py; reaches into ws2.handles and providers.wspm, so layers that a change of those
# modules removes are reported as missing, never as a failure.
start()
_N = P["prof_n"]
_CALLS = P["alloc_calls"]
_REPS = 3 if QUICK else 5
_BUF = bytearray(64)
_IN = bytearray(64)
_socks = []

_LOOP_ALLOC = alloc_per_call(empty_loop)
_LOOP_US = sorted(loop_cost(_N) for _ in range(3))[1] / _N


_layers = []  # (path, name, fn or the reason it cannot run)


def layer(path, name, make):
    """Queue a layer: make() returns fn(n), which makes n calls; a layer that cannot run is reported missing."""
    try:
        fn = make()
        fn(10)
        _layers.append((path, name, fn))
    except Exception as e:
        _layers.append((path, name, why(e)))


def run_layers():
    """Time the queued layers round-robin (drift hits all alike), then their heap per call; emit, forget them."""
    us = [[] for _ in _layers]
    for _ in range(_REPS):
        for k in range(len(_layers)):
            fn = _layers[k][2]
            if isinstance(fn, str):
                continue
            gc.collect()
            try:
                t = _us()
                fn(_N)
                us[k].append(max(0.0, _diff(_us(), t) / _N - _LOOP_US))
            except Exception as e:
                _layers[k] = (_layers[k][0], _layers[k][1], why(e))
    for k in range(len(_layers)):
        path, name, fn = _layers[k]
        if isinstance(fn, str):
            out("prof", path, name, fn)
            continue
        try:
            out("prof", path, name, {"us": us[k], "alloc": max(0.0, alloc_per_call(fn) - _LOOP_ALLOC)})
        except Exception as e:
            out("prof", path, name, why(e))
    del _layers[:]


def wspm():
    return sys.modules["providers.wspm"]


def ctx_of(s):
    from ws2 import handles

    return handles.ctx[handles.slot(s)]


def baseline():
    def f2(a, b):
        return 0

    def f6(a, b, c, d, e, f):
        return 0

    def make2():
        def fn(n):
            for _ in range(n):
                f2(1, 2)
        return fn

    def make6():
        def fn(n):
            for _ in range(n):
                f6(1, 2, None, None, None, None)
        return fn

    def g(a):
        return (a, 2)  # one small allocation in the callee

    def make_alloc():
        def fn(n):
            for _ in range(n):
                g(n)
        return fn

    def make_star():
        args = (1,)

        def fn(n):
            for _ in range(n):
                g(*args)
        return fn

    layer("python", "empty function call, 2 args", make2)
    layer("python", "empty function call, 6 args", make6)
    layer("python", "call whose callee allocates a 2-tuple", make_alloc)
    layer("python", "the same as f(*args): star call, callee allocates", make_star)


def send():
    path = "send 64 B TCP"
    k = tcp_raw(P["sink"])
    _socks.append(k)
    k.send(header(68, 0))
    s, how = tcp_ws2(P["sink"])
    _socks.append(s)
    ws2.send(s, header(68, 0))
    buf = _BUF

    def m_raw():
        f = k.send

        def fn(n):
            for _ in range(n):
                f(buf)
        return fn

    def m_wspm():
        f = wspm().WSPSend
        c = ctx_of(s)

        def fn(n):
            for _ in range(n):
                f(c, buf, 0, None, None, None)
        return fn

    def m_ws2():
        f = ws2.send

        def fn(n):
            for _ in range(n):
                f(s, buf)
        return fn

    def m_wsasend():
        f = ws2.WSASend

        def fn(n):
            for _ in range(n):
                f(s, buf)
        return fn

    def m_slot():
        from ws2 import handles

        f = handles.slot

        def fn(n):
            for _ in range(n):
                f(s)
        return fn

    def m_dispatch():
        from ws2 import handles

        i = handles.slot(s)

        def fn(n):
            for _ in range(n):
                handles.prov[i].table[23]
                handles.ctx[i]
        return fn

    def m_mv():
        def fn(n):
            for _ in range(n):
                memoryview(buf)
        return fn

    layer(path, "raw sock.send", m_raw)
    layer(path, "wspm.WSPSend (provider only)", m_wspm)
    layer(path, "ws2.send (router + provider)", m_ws2)
    layer(path, "ws2.WSASend", m_wsasend)
    layer(path, "handles.slot (handle lookup)", m_slot)
    layer(path, "handles.prov[i].table[23], handles.ctx[i] (dispatch lookups)", m_dispatch)
    layer(path, "memoryview(buf)", m_mv)


def recv():
    path = "recv 64 B TCP"
    need = 64 * (_N * (_REPS + 1) + _CALLS + 100) * 3
    k = tcp_raw(P["sink"])
    _socks.append(k)
    k.send(header(82, need))
    s, how = tcp_ws2(P["sink"])
    _socks.append(s)
    ws2.send(s, header(82, need))
    time.sleep_ms(50)
    buf = _IN

    def m_raw():
        f = k.recv

        def fn(n):
            for _ in range(n):
                f(64)
        return fn

    def m_readinto():
        f = k.readinto

        def fn(n):
            for _ in range(n):
                f(buf)
        return fn

    def m_wspm():
        f = wspm().WSPRecv
        c = ctx_of(s)

        def fn(n):
            for _ in range(n):
                f(c, 64, 0, None, None, None)
        return fn

    def m_ws2():
        f = ws2.recv

        def fn(n):
            for _ in range(n):
                f(s, 64)
        return fn

    def m_into():
        f = ws2.recv_into

        def fn(n):
            for _ in range(n):
                f(s, buf)
        return fn

    layer(path, "raw sock.recv(64)", m_raw)
    layer(path, "raw sock.readinto(buf)", m_readinto)
    layer(path, "wspm.WSPRecv(c, 64, ...) (provider only)", m_wspm)
    layer(path, "ws2.recv (router + provider)", m_ws2)
    layer(path, "ws2.recv_into (router + provider)", m_into)


def sendto():
    path = "sendto 64 B UDP"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _socks.append(u)
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP)
    _socks.append(s)
    raddr = raw_addr(HOST, P["udp_sink"])
    addr = (HOST, P["udp_sink"])
    buf = _BUF

    def m_raw():
        f = u.sendto

        def fn(n):
            for _ in range(n):
                f(buf, raddr)
        return fn

    def m_wspm():
        f = wspm().WSPSendTo
        c = ctx_of(s)

        def fn(n):
            for _ in range(n):
                f(c, buf, 0, addr, None, None, None)
        return fn

    def m_ws2():
        f = ws2.sendto

        def fn(n):
            for _ in range(n):
                f(s, buf, addr)
        return fn

    def m_gai():
        f = socket.getaddrinfo
        port = P["udp_sink"]

        def fn(n):
            for _ in range(n):
                f(HOST, port)
        return fn

    layer(path, "raw sock.sendto", m_raw)
    layer(path, "wspm.WSPSendTo (provider only)", m_wspm)
    layer(path, "ws2.sendto (router + provider)", m_ws2)
    layer(path, "socket.getaddrinfo(ip, port): one address conversion on this port", m_gai)


def life():
    global _N
    path = "socket life (1/20 of the calls)"
    n = max(10, _N // 20)
    addr = (HOST, P["listener"])
    raddr = raw_addr(HOST, P["listener"])

    def m_raw():
        sock = socket.socket

        def fn(k):
            for _ in range(k):
                x = sock(socket.AF_INET, socket.SOCK_STREAM)
                x.close()
        return fn

    def m_ws2():
        sock = ws2.socket
        shut = ws2.closesocket

        def fn(k):
            for _ in range(k):
                shut(sock(2, 1, 6))
        return fn

    def m_raw_cc():
        sock = socket.socket

        def fn(k):
            for _ in range(k):
                x = sock(socket.AF_INET, socket.SOCK_STREAM)
                x.connect(raddr)
                x.close()
        return fn

    def m_ws2_cc():
        sock = ws2.socket
        conn = ws2.connect
        shut = ws2.closesocket

        def fn(k):
            for _ in range(k):
                h = sock(2, 1, 6)
                conn(h, addr)
                shut(h)
        return fn

    def m_gai():
        gai = ws2.getaddrinfo

        def fn(k):
            for _ in range(k):
                gai(HOST, 80, 2, 1)
        return fn

    keep_n = _N
    _N = n
    try:
        layer(path, "raw socket() + close()", m_raw)
        layer(path, "ws2.socket() + closesocket()", m_ws2)
        layer(path, "raw socket() + connect() + close()", m_raw_cc)
        layer(path, "ws2.socket() + connect() + closesocket()", m_ws2_cc)
        layer(path, "ws2.getaddrinfo(numeric host)", m_gai)
        run_layers()
    finally:
        _N = keep_n


class _Stub:
    """A native socket that answers at once: what is left of a call is the Python of the layers above it."""

    def send(self, b):
        return len(b)

    def recv(self, n, *flags):
        return _DATA

    def readinto(self, b, n=None):
        return len(b) if n is None else n

    def recv_into(self, b, n=0, *flags):
        return n or len(b)

    def recvfrom(self, n, *flags):
        return _DATA, None

    def sendto(self, b, a):
        return len(b)

    def settimeout(self, t):
        pass

    def setblocking(self, f):
        pass

    def close(self):
        pass


_DATA = bytes(64)


def stubbed():
    # One TCP and one UDP ws2 socket whose native sockets are swapped for _Stub while the layers run.
    s, how = tcp_ws2(P["echo"])
    _socks.append(s)
    u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP)
    _socks.append(u)
    stub = _Stub()
    cs = ctx_of(s)
    cu = ctx_of(u)
    real = (cs.sk, cu.sk)
    cs.sk = stub
    cu.sk = stub
    buf = _BUF
    into = _IN
    addr = (HOST, P["udp_sink"])
    w = wspm()

    # Closures of fixed arity: a call f(*args) would itself cost ~2 us whenever the callee allocates
    # (MicroPython frees the star-call's argument array at once, and the next allocation then searches
    # the heap from that hole), which would be charged to the layer measured.
    def mk1(f, a):
        def make():
            def fn(n):
                for _ in range(n):
                    f(a)
            return fn
        return make

    def mk2(f, a, b):
        def make():
            def fn(n):
                for _ in range(n):
                    f(a, b)
            return fn
        return make

    def mk3(f, a, b, c):
        def make():
            def fn(n):
                for _ in range(n):
                    f(a, b, c)
            return fn
        return make

    def mk6(f, a, b, c, d, e, g):
        def make():
            def fn(n):
                for _ in range(n):
                    f(a, b, c, d, e, g)
            return fn
        return make

    def mk7(f, a, b, c, d, e, g, h):
        def make():
            def fn(n):
                for _ in range(n):
                    f(a, b, c, d, e, g, h)
            return fn
        return make

    try:
        path = "send 64 B, native stubbed"
        layer(path, "stub.send (the native call)", mk1(stub.send, buf))
        layer(path, "wspm.WSPSend (provider only)", mk6(w.WSPSend, cs, buf, 0, None, None, None))
        layer(path, "ws2.send (router + provider)", mk2(ws2.send, s, buf))
        path = "recv 64 B, native stubbed"
        layer(path, "stub.recv (the native call)", mk1(stub.recv, 64))
        layer(path, "wspm.WSPRecv (provider only)", mk6(w.WSPRecv, cs, 64, 0, None, None, None))
        layer(path, "ws2.recv (router + provider)", mk2(ws2.recv, s, 64))
        layer(path, "ws2.recv_into (router + provider)", mk2(ws2.recv_into, s, into))
        path = "sendto 64 B, native stubbed"
        layer(path, "stub.sendto (the native call)", mk2(stub.sendto, buf, addr))
        layer(path, "wspm.WSPSendTo (provider only)", mk7(w.WSPSendTo, cu, buf, 0, addr, None, None, None))
        layer(path, "ws2.sendto (router + provider)", mk3(ws2.sendto, u, buf, addr))
        run_layers()
    finally:
        cs.sk, cu.sk = real


for _step in (baseline, send, recv, sendto, life, stubbed):
    try:
        _step()
        run_layers()
    except Exception as _e:
        out("prof", "error", _step.__name__, why(_e))
    del _layers[:]
    while _socks:
        close(_socks.pop())
ws2.WSACleanup()
