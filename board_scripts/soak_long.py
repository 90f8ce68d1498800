# Soak, section 2: long runs at the ESP32 heap budget. MIT licence; part of ws2 for MicroPython.
# Runs after soak_lib.py.
#
# Each run is warmed up once (first-use imports and caches are not leaks), then
# the heap is taken, the run repeated P[...] times, and the heap taken again:
# after <= before + 1 KB, the handle table empty, every byte that went out came
# back. "@FD before"/"@FD after" lines let a host that can see the
# interpreter's file descriptors (the virtual board) count them at those points.
SLACK = 1024
_PAT = bytes(range(256)) * 16  # 4 KB with a pattern a reordering or a lost byte would show


def fd_mark(when, rid):
    # The host counts the interpreter's descriptors when it reads this line: hold still meanwhile.
    print("@FD %s %s" % (when, rid))
    sleep_ms(250)


def _create_close(n, t):
    for i in range(n):
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM if i & 1 else ws2.SOCK_STREAM, 0)
        ws2.closesocket(s)
        t.ok()
        beat(i)


def _tcp_exchange(n, t, acct):
    size = P["tcp_bytes"]
    data = _PAT[:size]
    buf = bytearray(size)
    mv = memoryview(buf)
    for i in range(n):
        s = tcp()
        try:
            sent = 0
            while sent < size:
                sent += ws2.send(s, data[sent:] if sent else data)
            got = 0
            while got < size:
                k = ws2.recv_into(s, mv[got:])
                if not k:
                    break
                got += k
            acct[0] += sent
            acct[1] += got
            if got != size or buf != data:
                t.fail("echo differs", "connection %d: %d of %d bytes" % (i, got, size))
            else:
                t.ok()
        finally:
            ws2.closesocket(s)
        beat(i)


def _udp(n, t, acct):
    u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.setsockopt(u, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 2000)
    addr = (HOST, P["udp_echo"])
    buf = bytearray(256)
    w = 8
    try:
        i = 0
        while i < n:
            k = min(w, n - i)
            for j in range(k):
                msg = b"%08d" % (i + j)
                acct[0] += ws2.sendto(u, msg, addr)
            seen = 0
            for j in range(k):
                try:
                    got, frm = ws2.recvfrom(u, 256)
                except ws2.WSAError as e:
                    if e.errno != ws2.WSAETIMEDOUT:
                        raise
                    break
                acct[1] += len(got)
                if len(got) != 8 or not (i <= int(got) < i + k):
                    t.fail("wrong datagram", repr(got))
                else:
                    seen += 1
            for j in range(k):
                if j < seen:
                    t.ok()
                else:
                    t.fail("datagram lost", "window at %d" % i)
            i += k
            beat(i)
    finally:
        ws2.closesocket(u)


def _eventselect(n, t):
    s = tcp()
    ev = ws2.WSACreateEvent()
    try:
        ws2.WSAEventSelect(s, ev, ws2.FD_READ)
        for i in range(n):
            ws2.send(s, b"ping%04d" % (i % 10000))
            if ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) != 0:
                t.fail("no FD_READ within 3 s", "round %d" % i)
                continue
            net, _ = ws2.WSAEnumNetworkEvents(s, ev)
            got = b""
            while len(got) < 8:
                try:
                    got += ws2.recv(s, 8 - len(got))
                except ws2.WSAError as e:
                    if e.errno != ws2.WSAEWOULDBLOCK:
                        raise
                    ws2.WSAWaitForMultipleEvents([ev], False, 3000, False)
                    ws2.WSAEnumNetworkEvents(s, ev)
            if not net & ws2.FD_READ or got != b"ping%04d" % (i % 10000):
                t.fail("event-select round trip", "round %d: events %r, data %r" % (i, net, got))
            else:
                t.ok()
            beat(i)
        ws2.WSAEventSelect(s, None, 0)
    finally:
        ws2.closesocket(s)
        ws2.WSACloseEvent(ev)


def _overlapped(n, t):
    s = tcp()
    ev = ws2.WSACreateEvent()
    buf = bytearray(8)
    try:
        for i in range(n):
            ws2.WSAResetEvent(ev)
            ov = ws2.WSAOverlapped(ev)
            try:
                k = ws2.WSARecv(s, [buf], 0, ov)
                pending = False
            except ws2.WSAError as e:
                if e.errno != ws2.WSA_IO_PENDING:
                    raise
                pending = True
            msg = b"ovl%05d" % (i % 100000)
            ws2.WSASend(s, [msg])
            if pending:
                if ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) != 0:
                    t.fail("overlapped receive not complete within 3 s", "round %d" % i)
                    continue
                k, _ = ws2.WSAGetOverlappedResult(s, ov, False)
            got = bytes(buf[:k])
            while len(got) < 8:
                got += ws2.recv(s, 8 - len(got))
            if got != msg:
                t.fail("overlapped round trip", "round %d: %r" % (i, got))
            else:
                t.ok()
            beat(i)
    finally:
        ws2.closesocket(s)
        ws2.WSACloseEvent(ev)


def measured(rid, what, fn, n, bytes_=False):
    """Warm up with one round, then n rounds between two heap readings."""
    t = Tally(rid, what)
    acct = [0, 0]
    warm = Tally(rid, what)
    try:
        fn(1, warm, [0, 0]) if bytes_ else fn(1, warm)
        fd_mark("before", rid)
        before = heap()
        fn(n, t, acct) if bytes_ else fn(n, t)
        after = heap()
        fd_mark("after", rid)
    except Exception as e:
        t.fail("stopped", why(e))
        t.emit()
        return
    notes = []
    if before and after:
        grew = before - after
        notes.append("heap free before %d B, after %d B (grew %d B)" % (before, after, grew))
        t.tried += 1
        if grew > SLACK:
            t.broke += 1
            notes.append("heap grew by more than 1 KB")
    left = open_handles()
    t.tried += 1
    if left:
        t.broke += 1
        notes.append("handles left open: %r" % left)
    if bytes_:
        t.tried += 1
        notes.append("bytes sent %d, received %d" % (acct[0], acct[1]))
        if acct[0] != acct[1]:
            t.broke += 1
    t.emit(notes)


ws2.WSAStartup(0x0202)
measured("long.create", "socket create + close cycles (TCP and UDP alternately)", _create_close, P["create_close"])
measured("long.tcp", "TCP connections with a %d B echo each" % P["tcp_bytes"], _tcp_exchange, P["tcp_conns"], True)
measured("long.udp", "UDP datagrams through the echo, 8 in flight", _udp, P["udp_dgrams"], True)
measured("long.eventselect", "WSAEventSelect round trips (8 B echo)", _eventselect, P["io_rounds"])
measured("long.overlapped", "overlapped WSARecv round trips (8 B echo)", _overlapped, P["io_rounds"])
stop_all()
