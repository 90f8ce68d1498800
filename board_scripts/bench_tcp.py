# Bench: TCP through raw socket and ws2: 64-byte echo round trip, bulk send (4 KB and 32 KB writes),
# bulk receive, connect+close. MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py.
#
# Peers (host): P["echo"] echoes with TCP_NODELAY; P["sink"] reads a 5-byte
# header (op, length): "S" = swallow length bytes then answer b"K", "R" =
# send length bytes; P["listener"] accepts and closes.
_BIG = bytearray(32768)  # first, while the heap is still in one piece
start()
_RTT_N = P["rtt_n"]
_BULK = P["bulk_bytes"]
_CC_N = P["cc_n"]
_PING = b"\x55" * 64
_socks = []


def keep(x):
    _socks.append(x)
    return x


def rtt():
    fid = "tcp_rtt_64"
    n = _RTT_N
    ping = _PING

    def make_raw():
        k = keep(tcp_raw(P["echo"]))
        return echo_rtt(type(k).send, type(k).recv, k, n, ping)

    def make_ws2():
        s, how = tcp_ws2(P["echo"])
        keep(s)
        out("note", fid, "ws2", "TCP_NODELAY set through " + how)
        return echo_rtt(ws2.send, ws2.recv, s, n, ping)

    pair(fid, make_raw, make_ws2)


def bulk(size):
    fid = "tcp_bulk_%dk" % (size // 1024)
    count = max(1, _BULK // size)
    total = count * size
    buf = memoryview(_BIG)[:size]

    def make_raw():
        k = keep(tcp_raw(P["sink"]))
        send = k.send
        recv = k.recv

        def run():
            t = _us()
            send(header(83, total))
            for _ in range(count):
                m = send(buf)
                while m < size:  # a partial send (lwIP): the rest, as ws2's blocking send does
                    m += send(buf[m:])
            if recv(1) != b"K":
                raise OSError("the sink did not acknowledge")
            return total / _diff(_us(), t)  # bytes per us = MB/s

        run()  # warm-up: the connection's window opens
        return run

    def make_ws2():
        s, how = tcp_ws2(P["sink"])
        keep(s)
        send = ws2.send
        recv = ws2.recv

        def run():
            t = _us()
            send(s, header(83, total))
            for _ in range(count):
                send(s, buf)
            if recv(s, 1) != b"K":
                raise OSError("the sink did not acknowledge")
            return total / _diff(_us(), t)

        run()
        return run

    pair(fid, make_raw, make_ws2)


def bulk_recv():
    fid = "tcp_recv_4k"
    total = _BULK

    def receiver(send, recv, s):
        # send(s, data) and recv(s, size): the side's own calls (unbound methods for the raw socket).
        def run():
            t = _us()
            send(s, header(82, total))
            got = 0
            while got < total:
                d = recv(s, 4096)
                if not d:
                    raise OSError("the source closed early")
                got += len(d)
            return total / _diff(_us(), t)

        run()
        return run

    def make_raw():
        k = keep(tcp_raw(P["sink"]))
        return receiver(type(k).send, type(k).recv, k)

    def make_ws2():
        s, how = tcp_ws2(P["sink"])
        keep(s)
        return receiver(ws2.send, ws2.recv, s)

    pair(fid, make_raw, make_ws2)


def life(fid, n, connect):
    # socket() (+ connect()) + close, n times: the rate of connections, or the µs of a socket's life.
    def make(side):
        if side == "raw":
            addr = raw_addr(HOST, P["listener"])
            sock = socket.socket
            af, st, pr = socket.AF_INET, socket.SOCK_STREAM, 0
            conn = None
            shut = socket.socket.close
        else:
            addr = (HOST, P["listener"])
            sock = ws2.socket
            af, st, pr = ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP
            conn = ws2.connect
            shut = ws2.closesocket

        def run():
            t = _us()
            for _ in range(n):
                k = sock(af, st, pr)
                if connect:
                    conn(k, addr) if conn else k.connect(addr)
                shut(k)
            dt = _diff(_us(), t)
            return n * 1000000 / dt if connect else dt / n

        run()
        return run

    pair(fid, lambda: make("raw"), lambda: make("ws2"))


def connect_close():
    life("tcp_connect_close", _CC_N, True)


def socket_close():
    life("socket_close", _CC_N * 10, False)


# The receive figure goes early: each recv(4096) needs 4 KB in one piece, which a heap that has seen
# the send figures' churn next to ws2's modules may no longer have.
for _step in (rtt, bulk_recv, lambda: bulk(4096), lambda: bulk(32768), connect_close, socket_close):
    _step()
    while _socks:
        close(_socks.pop())
ws2.WSACleanup()
