# Soak, section 7: exhaustion. MIT licence; part of ws2 for MicroPython. Runs after soak_lib.py.
#
# P["part"] "table": every handle in use -> WSAEMFILE, then the table
# recovers; a MemoryError raised inside wspm at chosen proc-table slots (and a
# heap filled to the last block) must reach the caller as WSAENOBUFS with the
# router consistent. "lwip": the handle table raised above the board's socket
# limit (board.json max_sockets), so the stack's own limit comes first: it must
# be a clear WSAEMFILE / WSAENOBUFS, and the stack must recover. (On the virtual
# board the host sets the interpreter's descriptor limit to that many sockets.)
from ws2 import provider
from ws2.errors import errname

ROUNDS = P["mem_rounds"]


def fill(kind=ws2.SOCK_DGRAM):
    """Open sockets until one fails: (handles, the WSAError or other exception)."""
    got = []
    while True:
        try:
            got.append(ws2.socket(ws2.AF_INET, kind, 0))
        except Exception as e:
            return got, e
        if len(got) > 1000:
            return got, None


def close_all(hs):
    for h in hs:
        try:
            ws2.closesocket(h)
        except Exception:
            pass


def part_table():
    t = Tally("exhaust.table", "every handle in use -> WSAEMFILE; one freed -> a socket again; all freed -> empty")
    for r in range(ROUNDS):
        stop_all()
        ws2.WSAStartup(0x0202)
        hs, e = fill()
        if not isinstance(e, ws2.WSAError) or e.args[0] != ws2.WSAEMFILE:
            t.fail("not WSAEMFILE", "after %d sockets: %s" % (len(hs), why(e) if e else "no limit"))
        elif len(hs) != handles.capacity:
            t.fail("not the table's limit", "%d sockets, table of %d: %s" % (len(hs), handles.capacity, why(e)))
        else:
            t.ok()
        if hs:
            ws2.closesocket(hs.pop())
            try:
                hs.append(ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0))
                t.ok()
            except Exception as e2:
                t.fail("no socket after one was freed", why(e2))
        close_all(hs)
        if open_handles():
            t.fail("table not empty", repr(open_handles()))
        echo_check(t, "echo after exhaustion")
        beat()
    t.emit(["table capacity %d" % handles.capacity])


def boom(*a):
    raise MemoryError("provoked inside the provider")


# (slot, name, what to call) - the call gets (tcp handle, udp handle, listener handle)
POINTS = (
    (28, "WSPSocket", lambda s, u, l: ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)),
    (7, "WSPConnect", lambda s, u, l: ws2.connect(ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0),
                                                  (HOST, P["tcp_echo"]))),
    (23, "WSPSend", lambda s, u, l: ws2.send(s, b"x")),
    (19, "WSPRecv", lambda s, u, l: ws2.recv(s, 4)),
    (25, "WSPSendTo", lambda s, u, l: ws2.sendto(u, b"x", (HOST, P["udp_echo"]))),
    (21, "WSPRecvFrom", lambda s, u, l: ws2.recvfrom(u, 4)),
    (26, "WSPSetSockOpt", lambda s, u, l: ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_KEEPALIVE, 1)),
    (14, "WSPGetSockOpt", lambda s, u, l: ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_TYPE)),
    (16, "WSPIoctl", lambda s, u, l: ws2.ioctlsocket(s, ws2.FIONREAD, 0)),
    (3, "WSPBind", lambda s, u, l: ws2.bind(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0), ("0.0.0.0", 0))),
    (18, "WSPListen", lambda s, u, l: ws2.listen(l, 2)),
    (0, "WSPAccept", lambda s, u, l: ws2.accept(l)),
    (13, "WSPGetSockName", lambda s, u, l: ws2.getsockname(s)),
    (12, "WSPGetPeerName", lambda s, u, l: ws2.getpeername(s)),
    (27, "WSPShutdown", lambda s, u, l: ws2.shutdown(u, ws2.SD_SEND)),
    (6, "WSPCloseSocket", lambda s, u, l: ws2.closesocket(u)),
)


def wspm():
    for p in provider.loaded.values():
        if p.path == "providers.wspm":
            return p
    return None


def part_memory():
    t = Tally("exhaust.memory", "MemoryError inside wspm at chosen proc-table slots -> WSAENOBUFS, router "
                                "consistent")
    for r in range(ROUNDS):
        for slot, name, fn in POINTS:
            stop_all()
            ws2.WSAStartup(0x0202)
            s = tcp()
            u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
            ws2.connect(u, (HOST, P["udp_echo"]))
            l = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
            ws2.bind(l, ("0.0.0.0", 0))
            if slot != 18:
                ws2.listen(l, 2)
            ws2.ioctlsocket(l, ws2.FIONBIO, 1)
            p = wspm()
            orig = p.table
            p.table = tuple(boom if i == slot else orig[i] for i in range(len(orig)))
            ws2.WSASetLastError(0)
            try:
                fn(s, u, l)
                t.fail("no error", name)
            except ws2.WSAError as e:
                if e.args[0] != ws2.WSAENOBUFS:
                    t.fail("not WSAENOBUFS", "%s: %s" % (name, why(e)))
                elif ws2.WSAGetLastError() != ws2.WSAENOBUFS:
                    t.fail("last error not WSAENOBUFS", "%s: %d" % (name, ws2.WSAGetLastError()))
                else:
                    t.ok()
            except Exception as e:
                t.fail("not a WSAError", "%s: %s" % (name, why(e)))
            finally:
                p.table = orig
            # consistent: what is open can be closed, then nothing is left and an echo works
            close_all(open_handles())
            if open_handles():
                t.fail("table not empty", "%s: %r" % (name, open_handles()))
            bad = echo_ok()
            if bad:
                t.fail("echo after the MemoryError", "%s: %s" % (name, bad))
            beat()
    t.emit(["points: " + " ".join(x[1] for x in POINTS)])


def part_heap():
    t = Tally("exhaust.heap", "heap filled to the last block, then socket / send / recv / close: a WSA error "
                              "(WSAENOBUFS) or success, never a bare MemoryError")
    codes = {}
    for r in range(ROUNDS):
        stop_all()
        ws2.WSAStartup(0x0202)
        s = tcp()
        hog = []
        for size in (4096, 256, 16):
            try:
                while True:
                    hog.append(bytearray(size))
            except MemoryError:
                pass
        outcomes = []
        for name, fn in (("socket", lambda: ws2.closesocket(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))),
                         ("send", lambda: ws2.send(s, b"x")), ("recv", lambda: ws2.recv(s, 1)),
                         ("closesocket", lambda: ws2.closesocket(s))):
            try:
                fn()
                outcomes.append((name, "ok"))
            except ws2.WSAError as e:
                outcomes.append((name, errname(e.args[0]) or str(e.args[0])))
            except Exception as e:
                outcomes.append((name, "!" + type(e).__name__))
        hog = None
        gc.collect()
        for name, what in outcomes:
            codes[name + " " + what] = codes.get(name + " " + what, 0) + 1
            if what.startswith("!"):
                t.fail("not a WSAError", "%s: %s" % (name, what[1:]))
            else:
                t.ok()
        close_all(open_handles())
        echo_check(t, "echo after the full heap")
    t.emit(["outcomes: " + ", ".join("%s x%d" % kv for kv in sorted(codes.items()))])


def part_lwip():
    limit = P["max_sockets"]
    t = Tally("exhaust.lwip", "the stack's socket limit (%d, board.json) below the handle table's: a clear error, "
                              "then recovery" % limit)
    old = ws2.config()["max_sockets"]
    ws2.config(max_sockets=min(255, limit + 8))
    try:
        for r in range(ROUNDS):
            stop_all()
            ws2.WSAStartup(0x0202)
            hs, e = fill(ws2.SOCK_STREAM)
            if not isinstance(e, ws2.WSAError):
                t.fail("not a WSAError", "after %d sockets: %s" % (len(hs), why(e) if e else "no limit"))
            elif e.args[0] not in (ws2.WSAEMFILE, ws2.WSAENOBUFS):
                t.fail("not WSAEMFILE / WSAENOBUFS", "after %d sockets: %s" % (len(hs), why(e)))
            elif len(hs) >= handles.capacity:
                t.fail("the handle table's limit came first", "%d sockets: %s" % (len(hs), why(e)))
            else:
                t.ok()
                t.notes.append("after %d sockets: %s" % (len(hs), str(e)))
            close_all(hs)
            if open_handles():
                t.fail("table not empty", repr(open_handles()))
            hs, e = fill(ws2.SOCK_STREAM)
            if len(hs) < 1:
                t.fail("no socket after the limit", why(e))
            close_all(hs)
            echo_check(t, "echo after the stack's limit")
            beat()
    finally:
        stop_all()
        ws2.config(max_sockets=old)
    t.emit(["handle table %d" % handles.capacity])


if P["part"] == "table":
    part_table()
    part_memory()
    part_heap()
else:
    part_lwip()
stop_all()
