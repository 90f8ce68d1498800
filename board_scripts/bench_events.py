# Bench: readiness: select over 1, 8 and 32 sockets, and the wake-up latency of WSAEventSelect
# (raw: select.poll). MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py.
#
# select: unbound UDP sockets, none ready, timeout 0: the pure cost of asking.
# Winsock's select takes its sets anew on every call, so the raw counterpart
# builds a select.poll object per call. Wake-up: send 64 B to the echo peer
# and time from the send's return to the wait's return.
import select

start()
_PING = b"\x55" * 64
_WSA_WAIT_EVENT_0 = 0


def many(make, n, into):
    for _ in range(n):
        into.append(make())


def sel(n):
    # Raw first, then ws2, each with its own sockets: a board with 10 sockets
    # (esp32) cannot hold both sets of 8 at once.
    fid = "select_%d" % n
    calls = P["select_n"]
    socks = []

    def make_raw():
        many(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM), n, socks)
        poll = select.poll
        pin = select.POLLIN
        raws = socks[:]

        def run():
            t = _us()
            for _ in range(calls):
                p = poll()
                for k in raws:
                    p.register(k, pin)
                p.poll(0)
            return _diff(_us(), t) / calls

        run()
        return run

    def make_ws2():
        many(lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP), n, socks)
        sel = ws2.select
        hs = socks[:]

        def run():
            t = _us()
            for _ in range(calls):
                sel(hs, None, None, 0)
            return _diff(_us(), t) / calls

        run()
        return run

    each_alone(fid, (("raw", make_raw), ("ws2", make_ws2)), socks)


def wake():
    fid = "eventselect_wake"
    n = P["wake_n"]
    socks = []

    def make_raw():
        k = tcp_raw(P["echo"])
        socks.append(k)
        p = select.poll()
        p.register(k, select.POLLIN)
        send = k.send
        recv = k.recv

        def run():
            total = 0
            for _ in range(n):
                send(_PING)
                t = _us()
                if not p.poll(1000):
                    raise OSError("no wake-up within 1 s")
                total += _diff(_us(), t)
                got = 0
                while got < 64:
                    got += len(recv(64 - got))
            return total / n

        run()
        return run

    def make_ws2():
        s, how = tcp_ws2(P["echo"])
        socks.append(s)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(s, ev, ws2.FD_READ)
        evs = [ev]
        wait = ws2.WSAWaitForMultipleEvents
        enum = ws2.WSAEnumNetworkEvents
        send = ws2.send
        recv = ws2.recv

        def run():
            total = 0
            for _ in range(n):
                send(s, _PING)
                t = _us()
                r = wait(evs, False, 1000, False)
                total += _diff(_us(), t)
                if r != _WSA_WAIT_EVENT_0:
                    raise OSError("no wake-up within 1 s (WSAWaitForMultipleEvents returned %r)" % (r,))
                got = 0
                while got < 64:
                    enum(s, ev)
                    try:
                        got += len(recv(s, 64 - got))
                    except OSError as e:
                        if e.args[0] != 10035:  # WSAEWOULDBLOCK: the rest is on its way
                            raise
                        wait(evs, False, 1000, False)
            return total / n

        run()
        return run

    pair(fid, make_raw, make_ws2)
    for k in socks:
        close(k)


for _step in (lambda: sel(1), lambda: sel(8), lambda: sel(32), wake):
    try:
        _step()
    except Exception as _e:
        out("note", "events", None, why(_e))
ws2.WSACleanup()
