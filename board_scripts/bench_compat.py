# Bench: the ws2.compat drop-in against the port's own socket and ssl, running the same client code:
# 64 B round trip, bulk send (4 KB, 32 KB writes), bulk receive, UDP 64 B / 1,400 B, connect+close, TLS bulk.
# MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py ("ws2" side = the drop-in).
import errno

start()
from ws2 import compat  # noqa: E402
from ws2 import compat_tls  # noqa: E402

_BIG = bytearray(32768)
_IN = bytearray(4096)
_PING = b"\x55" * 64
_socks = []
_TIMEOUTS = (errno.ETIMEDOUT, errno.EAGAIN)
SIDES = (("raw", socket), ("ws2", compat))


def addr_of(mod, port):
    return mod.getaddrinfo(HOST, port)[0][-1]


def tcp(mod, port):
    k = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    _socks.append(k)
    k.setsockopt(_TCP[0], _TCP[1], 1)
    k.connect(addr_of(mod, port))
    return k


def figure(fid, maker):
    runs = []
    for side, mod in SIDES:
        attempt(fid, side, runs, lambda: maker(mod))
    measure(fid, runs)
    while _socks:
        close(_socks.pop())


def rtt(mod):
    k = tcp(mod, P["echo"])
    return echo_rtt(type(k).send, type(k).recv, k, P["rtt_n"], _PING)


def bulk(size):
    def make(mod):
        k = tcp(mod, P["sink"])
        count = max(1, P["bulk_bytes"] // size)
        total = count * size
        buf = memoryview(_BIG)[:size]
        write = k.write
        recv = k.recv

        def run():
            t = _us()
            write(header(83, total))
            for _ in range(count):
                write(buf)  # the stream write: blocking, so all of it
            if recv(1) != b"K":
                raise OSError("the sink did not acknowledge")
            return total / _diff(_us(), t)

        run()
        return run

    return make


def bulk_recv(mod):
    k = tcp(mod, P["sink"])
    total = P["bulk_bytes"]
    send = k.send
    readinto = k.readinto
    buf = memoryview(_IN)

    def run():
        t = _us()
        send(header(82, total))
        got = 0
        while got < total:
            n = readinto(buf)
            if not n:
                raise OSError("the source closed early")
            got += n
        return total / _diff(_us(), t)

    run()
    return run


def udp(size):
    def make(mod):
        u = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
        _socks.append(u)
        u.settimeout(1)
        addr = addr_of(mod, P["udp_echo"])
        buf = memoryview(_BIG)[:size]
        windows = max(1, P["udp_n"] // 8)
        return udp_echo_rate(type(u).sendto, type(u).recvfrom, u, buf, addr, windows, _TIMEOUTS)

    return make


def connect_close(mod):
    addr = addr_of(mod, P["listener"])
    sock = mod.socket
    af = mod.AF_INET
    st = mod.SOCK_STREAM
    n = P["cc_n"]

    def run():
        t = _us()
        for _ in range(n):
            k = sock(af, st)
            k.connect(addr)
            k.close()
        return n * 1000000 / _diff(_us(), t)

    run()
    return run


def tls_bulk():
    fid = "compat_tls_bulk"
    T = P["tls"]
    if T is None:
        for side, _ in SIDES:
            out("miss", fid, side, P["tls_missing"] or "no TLS server")
        return
    import ssl

    count = max(1, P["tls_bytes"] // 4096)

    def make(mod):
        ctx = (ssl if mod is socket else compat_tls).SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=T["ca_der"])
        k = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
        _socks.append(k)
        k.connect(addr_of(mod, T["port"]))
        ss = ctx.wrap_socket(k, server_hostname=T["name"])
        _socks.append(ss)
        return tls_echo_rate(ss.write, ss.readinto, memoryview(_BIG)[:4096], memoryview(_IN), count)

    # One TLS session at a time (mbedTLS buffers on the heap), as bench_tls.py.
    each_alone(fid, [(side, lambda mod=mod: make(mod)) for side, mod in SIDES], _socks)


for _fid, _maker in (("compat_rtt_64", rtt), ("compat_recv_4k", bulk_recv), ("compat_bulk_4k", bulk(4096)),
                     ("compat_bulk_32k", bulk(32768)), ("compat_udp_64", udp(64)), ("compat_udp_1400", udp(1400)),
                     ("compat_connect_close", connect_close)):
    figure(_fid, _maker)
tls_bulk()
ws2.WSACleanup()
