# Device tests of ws2/netevents: WSAEventSelect, WSAAsyncSelect, WSAEnumNetworkEvents, and the pump:
# a wake-up allocates nothing in the steady state ("without allocation per wake-up"), and little when
# data arrives. Runs on CPython and on the board; the allocation counts are MicroPython's
# (gc.mem_alloc), CPython runs the same paths without them.
# MIT licence; part of ws2 for MicroPython.
import gc

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_event_select_connect_write_read_close': 'no network on the emulated board',
    'test_event_select_connect_refused': 'no network on the emulated board',
    'test_fd_write_rearms_only_after_wouldblock': 'no network on the emulated board',
    'test_async_select_callbacks': 'no network on the emulated board',
    'test_stress_event_select_many_sockets': 'no network on the emulated board',
    'test_idle_wakeups_allocate_nothing': 'no network on the emulated board',
    'test_data_wakeups_allocate_little': 'no network on the emulated board',
    'test_closed_and_cancelled_sockets_leave_the_poller': 'no network on the emulated board',
    'test_two_threads_wait_at_once': "one emulated core: _thread.start_new_thread hangs",
    'test_cleanup_ends_registrations_and_requests': 'no network on the emulated board',
}}

_SOCKETS = 8
_IDLE_WAKEUPS = 200
_DATA_ROUNDS = 48
# A wake-up with data allocates only the FD_READ peek's answer: the 1-byte bytes object, its buffer
# and WSPRecv's (data, flags) tuple, one GC block each.
_DATA_WAKEUP_BOUND = 3 * ioh.BLOCK


# -- WSAEventSelect and WSAAsyncSelect --------------------------------------------------------

def _wait_events(s, ev, want, ms=3000):
    # Wait until `want` has been recorded on s; return (recorded, errors).
    got = 0
    errs = [0] * 10
    deadline = ms
    while deadline > 0:
        r = ws2.WSAWaitForMultipleEvents([ev], False, 100, False)
        e, codes = ws2.WSAEnumNetworkEvents(s, ev)
        for b in range(10):
            if e & (1 << b):
                errs[b] = codes[b]
        got |= e
        if got & want == want:
            return got, errs
        deadline -= 100 if r == ws2.WSA_WAIT_TIMEOUT else 1
    return got, errs


def test_event_select_connect_write_read_close(env):
    ioh.start()
    try:
        ls, port = ioh.listener()
        lev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(ls, lev, ws2.FD_ACCEPT)
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(c, ev, ws2.FD_CONNECT | ws2.FD_WRITE | ws2.FD_READ | ws2.FD_CLOSE)
        try:
            ws2.connect(c, ("127.0.0.1", port))
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEWOULDBLOCK, e  # registration made it non-blocking
        got, errs = _wait_events(c, ev, ws2.FD_CONNECT | ws2.FD_WRITE)
        assert got & ws2.FD_CONNECT and errs[ws2.FD_CONNECT_BIT] == 0, (got, errs)
        assert got & ws2.FD_WRITE
        got, _ = _wait_events(ls, lev, ws2.FD_ACCEPT)
        assert got & ws2.FD_ACCEPT
        a, _ = ws2.accept(ls)
        # the accepted socket inherits the listener's registration (same event and mask)
        ws2.send(a, b"0123456789")
        got, _ = _wait_events(c, ev, ws2.FD_READ)
        assert got & ws2.FD_READ
        # re-enabling: no new FD_READ until recv is called ...
        assert ws2.WSAWaitForMultipleEvents([ev], False, 200, False) == ws2.WSA_WAIT_TIMEOUT
        e, _ = ws2.WSAEnumNetworkEvents(c, ev)
        assert not e & ws2.FD_READ
        # ... and a partial recv leaves data, so FD_READ is recorded again at once
        assert ws2.recv(c, 4) == b"0123"
        got, _ = _wait_events(c, ev, ws2.FD_READ)
        assert got & ws2.FD_READ
        assert ws2.recv(c, 100) == b"456789"
        ws2.closesocket(a)
        got, errs = _wait_events(c, ev, ws2.FD_CLOSE)
        assert got & ws2.FD_CLOSE and errs[ws2.FD_CLOSE_BIT] == 0, (got, errs)
        # FIONBIO 0 is refused while registered; mask 0 cancels, then it is allowed
        ioh.expect(ws2.WSAEINVAL, ws2.ioctlsocket, c, ws2.FIONBIO, 0)
        ws2.WSAEventSelect(c, None, 0)
        ws2.ioctlsocket(c, ws2.FIONBIO, 0)
        for h in (c, ls):
            ws2.closesocket(h)
    finally:
        ioh.stop()


def test_event_select_connect_refused(env):
    ioh.start()
    try:
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(c, ev, ws2.FD_CONNECT)
        try:
            ws2.connect(c, (env.host_ip, env.closed_port))
        except ws2.WSAError as e:
            assert e.errno in (ws2.WSAEWOULDBLOCK, ws2.WSAECONNREFUSED), e
        got, errs = _wait_events(c, ev, ws2.FD_CONNECT)
        assert got & ws2.FD_CONNECT, got
        assert errs[ws2.FD_CONNECT_BIT] == ws2.WSAECONNREFUSED, errs
        ws2.closesocket(c)
    finally:
        ioh.stop()


def test_fd_write_rearms_only_after_wouldblock(env):
    ioh.start()
    try:
        ls, c, a, _ = ioh.pair()
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(c, ev, ws2.FD_WRITE)
        got, _ = _wait_events(c, ev, ws2.FD_WRITE)
        assert got & ws2.FD_WRITE  # recorded at registration: the socket can send
        ws2.send(c, b"x" * 100)  # a send that succeeds does not re-arm FD_WRITE
        assert ws2.WSAWaitForMultipleEvents([ev], False, 200, False) == ws2.WSA_WAIT_TIMEOUT
        chunk = b"y" * 1024
        blocked = False
        for _ in range(4096):  # fill the send path until it would block
            try:
                ws2.send(c, chunk)
            except ws2.WSAError as e:
                assert e.errno == ws2.WSAEWOULDBLOCK, e
                blocked = True
                break
        assert blocked
        drained = 0
        buf = bytearray(4096)
        while True:  # the peer reads everything: space again -> FD_WRITE
            r, _, _ = ws2.select([a], [], [], 0.5)
            if not r:
                break
            drained += ws2.recv_into(a, buf)
        got, _ = _wait_events(c, ev, ws2.FD_WRITE)
        assert got & ws2.FD_WRITE
        for h in (a, c, ls):
            ws2.closesocket(h)
    finally:
        ioh.stop()


def test_async_select_callbacks(env):
    ioh.start()
    try:
        seen = []
        s = ioh.tcp(env)
        ws2.WSAAsyncSelect(s, lambda h, ev, err: seen.append((h, ev, err)), ws2.FD_READ | ws2.FD_WRITE)
        ws2.send(s, b"hello")
        for _ in range(50):
            ws2.sleep_alertable(50)
            if any(ev == ws2.FD_READ for _, ev, _ in seen):
                break
        assert (s, ws2.FD_WRITE, 0) in seen, seen
        assert (s, ws2.FD_READ, 0) in seen, seen
        assert ws2.recv(s, 10) == b"hello"
        ws2.WSAAsyncSelect(s, None, 0)
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_stress_event_select_many_sockets(env):
    ioh.start()
    try:
        from ws2 import handles

        n = min(32, handles.capacity - 2)
        msgs = 1000 if n >= 32 else 200
        socks = []
        events = []
        for k in range(n):
            s = ioh.tcp(env)
            ev = ws2.WSACreateEvent()
            ws2.WSAEventSelect(s, ev, ws2.FD_READ)
            socks.append(s)
            events.append(ev)
        sent = [0] * n
        recvd = [0] * n
        buf = bytearray(64)
        inflight = 4  # per socket: keeps every socket busy without flooding a board
        for k in range(n):
            for _ in range(inflight):
                ws2.send(socks[k], b"%08d" % sent[k])
                sent[k] += 1
        pending = bytearray(0)
        tails = [b""] * n
        while min(recvd) < msgs:
            r = ws2.WSAWaitForMultipleEvents(events, False, 5000, False)
            assert r != ws2.WSA_WAIT_TIMEOUT, "stalled at %r" % (recvd,)
            for k in range(n):
                if not events[k].signalled:
                    continue
                ws2.WSAEnumNetworkEvents(socks[k], events[k])
                while True:
                    try:
                        m = ws2.recv_into(socks[k], buf)
                    except ws2.WSAError as e:
                        assert e.errno == ws2.WSAEWOULDBLOCK, e
                        break
                    data = tails[k] + bytes(buf[:m])
                    whole = len(data) // 8 * 8
                    for off in range(0, whole, 8):
                        assert int(data[off:off + 8]) == recvd[k], "socket %d: got %r want %d" % (
                            k, data[off:off + 8], recvd[k])
                        recvd[k] += 1
                        if sent[k] < msgs:
                            ws2.send(socks[k], b"%08d" % sent[k])
                            sent[k] += 1
                    tails[k] = data[whole:]
        assert recvd == [msgs] * n
        for s in socks:
            ws2.closesocket(s)
    finally:
        ioh.stop()


# -- the pump ----------------------------------------------------------------------------------

def _open(env):
    # _SOCKETS connections to the host's echo peer, each under WSAEventSelect(FD_READ | FD_CLOSE).
    socks = []
    events = []
    for _ in range(_SOCKETS):
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(s, ev, ws2.FD_READ | ws2.FD_CLOSE)
        socks.append(s)
        events.append(ev)
    return socks, events


def _check_pump_uses_wspm_poller():
    # What the pump waits on: one group (wspm), all sockets in it, through wspm's pump select.
    from ws2 import netevents

    groups = [g for g in netevents._groups if g.n]
    assert len(groups) == 1, "groups: %r" % ([(g.p, g.n) for g in groups],)
    assert groups[0].n == _SOCKETS, groups[0].n
    assert groups[0].fast is not None, "wspm's pump select is not in use"


def test_idle_wakeups_allocate_nothing(env):
    ioh.start()
    try:
        from ws2 import netevents

        socks, events = _open(env)
        for _ in range(3):  # the first pumps build the groups, load wspm's poller part and make its poller
            netevents.pump(1)
        _check_pump_uses_wspm_poller()
        gc.collect()
        before = ioh.alloc()
        for _ in range(_IDLE_WAKEUPS):
            assert netevents.pump(1)  # 1 ms with nothing ready: a timeout slice
        grew = ioh.alloc() - before
        assert not [ev for ev in events if ev.signalled]  # idle: nothing arrived
        assert grew == 0, "%d idle wake-ups allocated %d bytes" % (_IDLE_WAKEUPS, grew)
        # The same through the waits applications use: a long wait costs what a zero wait costs
        # (its own argument list), however many 50 ms slices it takes.
        timeout = ws2.WSA_WAIT_TIMEOUT  # (ws2's lazy root caches a name on its first use: not in the count)
        for ms in (0, 300):  # warm-up
            ws2.WSAWaitForMultipleEvents(events, False, ms, False)
        cost = [0, 0]
        for k in range(2):
            gc.collect()
            before = ioh.alloc()
            got = ws2.WSAWaitForMultipleEvents(events, False, 500 * k, False)
            cost[k] = ioh.alloc() - before
            assert got == timeout, got
        assert cost[1] == cost[0], "WSAWaitForMultipleEvents: 0 ms %d bytes, 500 ms %d bytes" % tuple(cost)
        ws2.sleep_alertable(0)
        gc.collect()
        before = ioh.alloc()
        assert ws2.sleep_alertable(300) == 0
        grew = ioh.alloc() - before
        assert grew == 0, "sleep_alertable(300) allocated %d bytes" % grew
        for s in socks:
            ws2.closesocket(s)
    finally:
        ioh.stop()


def test_data_wakeups_allocate_little(env):
    ioh.start()
    try:
        from ws2 import netevents

        socks, events = _open(env)
        buf = bytearray(16)
        total = 0
        wakeups = 0
        for r in range(_DATA_ROUNDS + _SOCKETS):
            k = r % _SOCKETS
            s = socks[k]
            ev = events[k]
            if r == _SOCKETS:  # one warm-up round per socket, then count
                netevents.pump(0)  # (the last recv re-armed a socket: the pump takes it back now)
                _check_pump_uses_wspm_poller()
                total = 0
                wakeups = 0
            ws2.send(s, b"x")  # echoed: FD_READ on s
            for _ in range(100):
                gc.collect()
                before = ioh.alloc()
                netevents.pump(50)
                total += ioh.alloc() - before
                wakeups += 1
                if ev.signalled:
                    break
            assert ev.signalled, "no FD_READ on socket %d" % k
            got, _ = ws2.WSAEnumNetworkEvents(s, ev)  # resets ev
            assert got == ws2.FD_READ, got
            assert ws2.recv_into(s, buf) == 1 and buf[0] == 0x78  # re-arms FD_READ: the pump's set changes
            for other in events:
                assert not other.signalled
        # Every round changes the set twice (FD_READ recorded, then re-armed by recv), so this also
        # shows that rebuilding the groups and re-syncing the poller allocate nothing.
        assert total <= _DATA_ROUNDS * _DATA_WAKEUP_BOUND, "%d data rounds (%d wake-ups) allocated %d bytes" % (
            _DATA_ROUNDS, wakeups, total)
        for s in socks:
            ws2.closesocket(s)
    finally:
        ioh.stop()


def test_closed_and_cancelled_sockets_leave_the_poller(env):
    # Sockets closed or cancelled while the pump watches them must not make it wake (a closed
    # socket reports POLLNVAL, a stale one would spin) nor be reported as someone else's.
    ioh.start()
    try:
        import time

        from ws2 import netevents

        socks, events = _open(env)
        netevents.pump(1)
        _check_pump_uses_wspm_poller()
        for s in socks[:3]:
            ws2.closesocket(s)
        ws2.WSAEventSelect(socks[3], None, 0)
        netevents.pump(1)
        assert [g.n for g in netevents._groups if g.n] == [_SOCKETS - 4]
        calls = [0]
        real = netevents.pump

        def counting(ms):
            calls[0] += 1
            return real(ms)

        netevents.pump = counting
        try:
            t0 = time.time()
            assert ws2.WSAWaitForMultipleEvents(events[4:], False, 500, False) == ws2.WSA_WAIT_TIMEOUT
            took = time.time() - t0
        finally:
            netevents.pump = real
        assert 0.4 <= took < 3, took
        assert calls[0] <= 16, "a 0.5 s wait woke %d times" % calls[0]
        # a new socket (which may reuse a closed one's descriptor) is watched as itself
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(s, ev, ws2.FD_READ)
        ws2.send(s, b"y")
        assert ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) == 0
        assert not [e for e in events[4:] if e.signalled]
        assert ws2.recv(s, 4) == b"y"
        for h in socks[4:] + [s]:
            ws2.closesocket(h)
    finally:
        ioh.stop()


def test_two_threads_wait_at_once(env):
    # One thread pumps at a time (the groups and wspm's poller have one user); a second waiter
    # meanwhile sleeps short slices and still sees its event, set by the pumping thread.
    _thread = ioh.threads(env)
    import time

    ioh.start()
    try:
        socks, events = _open(env)
        results = [None, None]
        done = [0]
        lock = _thread.allocate_lock()

        def waiter(k):
            try:
                results[k] = ws2.WSAWaitForMultipleEvents([events[k]], False, 5000, False)
            except Exception as e:  # reported by the main thread
                results[k] = e
            with lock:
                done[0] += 1

        _thread.start_new_thread(waiter, (0,))
        _thread.start_new_thread(waiter, (1,))
        time.sleep(0.2)  # both waiting now, one of them pumping
        t0 = time.time()
        ws2.send(socks[1], b"b")
        ws2.send(socks[0], b"a")
        while done[0] < 2 and time.time() - t0 < 8:
            time.sleep(0.01)
        took = time.time() - t0
        assert results == [0, 0], results
        assert took < 2, took
        for k in range(2):
            assert ws2.recv(socks[k], 4) == (b"a", b"b")[k]
        for s in socks:
            ws2.closesocket(s)
    finally:
        ioh.stop()


def test_cleanup_ends_registrations_and_requests(env):
    # WSACleanup closes sockets as closesocket does: their WSAEventSelect registrations and pending
    # overlapped requests end with them, so nothing stale is left for the pump after a restart.
    ioh.start()
    from ws2 import netevents, overlapped

    socks, events = _open(env)
    ov = ws2.WSAOverlapped()
    try:
        ws2.WSARecv(socks[0], bytearray(16), 0, ov)
    except ws2.WSAError as e:
        assert e.args[0] == ws2.WSA_IO_PENDING, e
    assert len(netevents.regs) == _SOCKETS and overlapped.pending
    ioh.stop()
    assert not netevents.regs and not overlapped.pending
    assert ov.error == ws2.WSA_OPERATION_ABORTED, ov.error
