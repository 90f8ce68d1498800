# Bench: heap allocated per call on the data paths, raw socket against ws2 (gc.mem_alloc() deltas with the
# collector off, in chunks, over P["alloc_calls"] calls). MIT licence; part of ws2 for MicroPython.
# Runs after bench_lib.py.
#
# Peers: P["sink"] swallows ("D") or sends ("R"), P["udp_sink"] drops, P["udp_echo"] echoes.
# The loop's own allocation (the range object, once per chunk) is subtracted.
import errno

start()
_CALLS = P["alloc_calls"]
_BUF = bytearray(64)
_IN = bytearray(64)
_socks = []

_LOOP = alloc_per_call(empty_loop)


def sample(fn):
    return lambda: max(0.0, alloc_per_call(fn) - _LOOP)


def keep(x):
    _socks.append(x)
    return x


def figure(fid, make_raw, make_ws2):
    pair(fid, lambda: sample(make_raw()), lambda: sample(make_ws2()))
    while _socks:
        close(_socks.pop())


def tcp_pair(op, n):
    k = keep(tcp_raw(P["sink"]))
    k.send(header(op, n))
    s, how = tcp_ws2(P["sink"])
    keep(s)
    ws2.send(s, header(op, n))
    return k, s


def send():
    k, s = tcp_pair(68, 0)  # "D": the sink swallows until the board closes
    buf = _BUF

    fr = k.send  # bound once: the bound method is the caller's, not the call's
    fw = ws2.send

    def raw(n):
        for _ in range(n):
            fr(buf)

    def w(n):
        for _ in range(n):
            fw(s, buf)

    figure("alloc_send", lambda: raw, lambda: w)


def recv():
    need = 64 * _CALLS * (REPS + 1) * 2  # more than both will read: recv never waits for the source
    k, s = tcp_pair(82, need)
    time.sleep_ms(50)

    fr = k.recv
    fw = ws2.recv

    def raw(n):
        for _ in range(n):
            fr(64)

    def w(n):
        for _ in range(n):
            fw(s, 64)

    figure("alloc_recv", lambda: raw, lambda: w)


def recv_into():
    need = 64 * _CALLS * (REPS + 1) * 2
    k, s = tcp_pair(82, need)
    time.sleep_ms(50)
    buf = _IN

    fr = k.readinto
    fw = ws2.recv_into

    def raw(n):
        for _ in range(n):
            fr(buf)

    def w(n):
        for _ in range(n):
            fw(s, buf)

    figure("alloc_recv_into", lambda: raw, lambda: w)


def sendto():
    buf = _BUF

    def make_raw():
        u = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        addr = raw_addr(HOST, P["udp_sink"])
        f = u.sendto

        def raw(n):
            for _ in range(n):
                f(buf, addr)

        return raw

    def make_ws2():
        s = keep(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP))
        addr = (HOST, P["udp_sink"])
        f = ws2.sendto

        def w(n):
            for _ in range(n):
                f(s, buf, addr)

        return w

    figure("alloc_sendto", make_raw, make_ws2)


def recvfrom():
    # Pairs against the echo, 8 in flight; a chunk of 48 pairs keeps the collector off for 48 datagrams.
    buf = _BUF

    def make_raw():
        u = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        u.settimeout(1)
        addr = raw_addr(HOST, P["udp_echo"])
        st = u.sendto
        rf = u.recvfrom

        def raw(n):
            for _ in range(n // 8):
                for _ in range(8):
                    st(buf, addr)
                for _ in range(8):
                    rf(2048)

        return raw

    def make_ws2():
        s = keep(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP))
        timeout_ws2(s, 1000)
        addr = (HOST, P["udp_echo"])
        st = ws2.sendto
        rf = ws2.recvfrom

        def w(n):
            for _ in range(n // 8):
                for _ in range(8):
                    st(s, buf, addr)
                for _ in range(8):
                    rf(s, 2048)

        return w

    def sampler(make):
        return lambda: (lambda: max(0.0, alloc_per_call(make(), 48) - _LOOP))

    pair("alloc_recvfrom", sampler(make_raw), sampler(make_ws2))
    while _socks:
        close(_socks.pop())


for _step in (send, recv, recv_into, sendto, recvfrom):
    try:
        _step()
    except Exception as _e:
        out("note", "alloc", None, "%s: %s" % (_step.__name__, why(_e)))
    while _socks:
        close(_socks.pop())
ws2.WSACleanup()
