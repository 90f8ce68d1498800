# Device-side helpers of `make bench`, put in front of every other board_scripts/bench_*.py.
# MIT licence; part of ws2 for MicroPython. Runs on MicroPython; the host prepends P = {...}.
#
# A result is one line "@R (kind, figure, side, value)" that the host reads
# with ast.literal_eval: kind "fig" (value: the samples of the repetitions),
# "miss" (value: why it could not be measured), "note" and "info" (text or
# numbers shown beside the figures), "prof" (a profiling entry). A failing
# measurement never stops the script: it becomes a "miss" line.
import gc
import socket
import sys
import time

ws2 = None  # imported by start(): the RAM script measures that import itself
_us = time.ticks_us
_diff = time.ticks_diff
HOST = P["host"]
REPS = P["reps"]
QUICK = P["quick"]
WORD = 8 if sys.maxsize > 0xFFFFFFFF else 4
_TCP = (getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1))
_WSA_IO_PENDING = 997


def out(kind, fid, side, value):
    print("@R " + repr((kind, fid, side, value)))


def why(e):
    """An exception (or a text) as one line for a "missing: ..." entry."""
    if isinstance(e, str):
        return e
    try:
        s = str(e)
    except Exception:
        s = ""
    return type(e).__name__ + (": " + s if s else repr(e.args))


def raw_addr(host, port):
    """What the port's connect/sendto take (unix: raw sockaddr bytes)."""
    return socket.getaddrinfo(host, port)[0][-1]


def native(s):
    """The native socket under a wspm handle: the bench reaches into the router's table for fallbacks only."""
    from ws2 import handles

    return handles.ctx[handles.slot(s)].sk


def context(s):
    from ws2 import handles

    return handles.ctx[handles.slot(s)]


def nodelay_raw(sk):
    sk.setsockopt(_TCP[0], _TCP[1], 1)


def nodelay_ws2(s):
    """TCP_NODELAY through ws2.setsockopt, else on the native socket; returns how it was set."""
    try:
        ws2.setsockopt(s, ws2.IPPROTO_TCP, ws2.TCP_NODELAY, 1)
        return "ws2.setsockopt"
    except Exception as e:
        nodelay_raw(native(s))
        return "the native socket (ws2.setsockopt failed: %s)" % why(e)


def timeout_ws2(s, ms):
    """A receive timeout through ws2.setsockopt(SO_RCVTIMEO), else in wspm's context; returns how."""
    try:
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, ms)
        return "ws2.setsockopt"
    except Exception as e:
        c = context(s)
        c.timeout = ms / 1000
        native(s).settimeout(c.timeout)
        return "wspm's context (ws2.setsockopt failed: %s)" % why(e)


def tcp_ws2(port):
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
    try:
        how = nodelay_ws2(s)
        ws2.connect(s, (HOST, port))
    except Exception:
        ws2.closesocket(s)
        raise
    return s, how


def tcp_raw(port):
    k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        nodelay_raw(k)
        k.connect(raw_addr(HOST, port))
    except Exception:
        k.close()
        raise
    return k


_hdr = bytearray(5)


def header(op, n):
    """The 5-byte request the host's sink/source peer reads: op (S swallow, R send) and a length."""
    _hdr[0] = op
    _hdr[1] = (n >> 24) & 255
    _hdr[2] = (n >> 16) & 255
    _hdr[3] = (n >> 8) & 255
    _hdr[4] = n & 255
    return _hdr


def close(x):
    try:
        if isinstance(x, int):
            ws2.closesocket(x)
        elif x is not None:
            x.close()
    except Exception:
        pass


def measure(fid, runs, reps=None):
    """Interleave the repetitions of runs [(side, fn)] (fn() -> one sample); emit each side's samples."""
    reps = reps or REPS
    n = len(runs)
    samples = [[] for _ in range(n)]
    dead = [None] * n
    for r in range(reps):
        for j in range(n):
            k = j if r % 2 == 0 else n - 1 - j  # alternate the order: drift hits both sides alike
            if dead[k] is not None:
                continue
            gc.collect()
            try:
                samples[k].append(runs[k][1]())
            except Exception as e:
                dead[k] = why(e)
    for k in range(n):
        if dead[k] is not None:
            out("miss", fid, runs[k][0], dead[k])
        else:
            out("fig", fid, runs[k][0], samples[k])


def attempt(fid, side, runs, make):
    """Add (side, make()) to runs; a failing set-up becomes a "miss" line for that side."""
    try:
        runs.append((side, make()))
    except Exception as e:
        out("miss", fid, side, why(e))


def alloc_per_call(fn, chunk=50):
    """Heap bytes allocated per call: fn(k) makes k calls, P["alloc_calls"] in all; the collector is off while
    it runs."""
    total = 0
    done = 0
    while done < P["alloc_calls"]:
        gc.collect()
        gc.disable()
        try:
            a = gc.mem_alloc()
            fn(chunk)
            total += gc.mem_alloc() - a
        finally:
            gc.enable()
        done += chunk
    return total / done


def empty_loop(k):
    """k turns of an empty loop: its allocation is what the callers of alloc_per_call subtract."""
    for _ in range(k):
        pass


def echo_rtt(send, recv, s, n, ping):
    """The function of one sample: us per round trip of ping (64 B) through the echo peer, n in a row.
    send(s, data) and recv(s, size) are the side's own calls (an unbound method for a socket object)."""
    def run():
        t = _us()
        for _ in range(n):
            send(s, ping)
            got = len(recv(s, 64))
            while got < 64:
                got += len(recv(s, 64 - got))
        return _diff(_us(), t) / n

    run()  # warm-up: connection and buffers settle
    return run


def tls_echo_rate(write, readinto, data, buf, count):
    """The function of one sample: bytes per us of count writes of data through the TLS echo peer, each read
    back whole into buf (a memoryview as long as data)."""
    size = len(data)
    total = count * size

    def run():
        t = _us()
        for _ in range(count):
            write(data)
            got = 0
            while got < size:
                n = readinto(buf[got:])
                if not n:
                    raise OSError("the TLS echo closed")
                got += n
        return total / _diff(_us(), t)

    run()
    return run


def udp_echo_rate(sendto, recvfrom, s, buf, addr, windows, timeouts, lost=None):
    """The function of one sample: datagrams per second through the UDP echo peer, in windows of 8 (8 sendto,
    then 8 recvfrom); sendto(s, data, addr) and recvfrom(s, size) are the side's own calls. A receive timeout
    (an errno in timeouts) ends its window and is counted in lost[0]."""
    def run():
        got = 0
        t = _us()
        for _ in range(windows):
            for _ in range(8):
                sendto(s, buf, addr)
            for _ in range(8):
                try:
                    recvfrom(s, 2048)
                except OSError as e:
                    if e.args[0] not in timeouts:
                        raise
                    if lost is not None:
                        lost[0] += 1
                    break
                got += 1
        return got * 1000000 / _diff(_us(), t)

    run()
    return run


def pair(fid, make_raw, make_ws2):
    """Measure fid on both sides: make_raw() and make_ws2() each return the function of one sample."""
    runs = []
    attempt(fid, "raw", runs, make_raw)
    attempt(fid, "ws2", runs, make_ws2)
    measure(fid, runs)


def each_alone(fid, makers, socks):
    """Measure fid one side at a time (makers: [(side, make)]), closing socks after each: a board's heap or
    socket table may not hold both sides' sockets at once."""
    for side, make in makers:
        runs = []
        attempt(fid, side, runs, make)
        if runs:
            measure(fid, runs)
        while socks:
            close(socks.pop())


def loop_cost(n):
    """us of n turns of an empty `for` loop (subtracted from per-call timings)."""
    t = _us()
    for _ in range(n):
        pass
    return _diff(_us(), t)


def start():
    """Import ws2 and WSAStartup; returns the module."""
    global ws2
    import ws2 as w

    ws2 = w
    w.WSAStartup(0x0202)
    gc.collect()
    out("info", "heap_free_after_start", None, gc.mem_free())
    return w


out("info", "word", None, WORD)
out("info", "version", None, "MicroPython %s (%s)" % (".".join(str(v) for v in sys.implementation.version[:3]),
                                                      sys.platform))
