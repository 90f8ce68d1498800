# Device tests: a wake-up of ws2's pump allocates nothing in the steady state ("without
# allocation per wake-up"), and little when data arrives. Runs on CPython and on the board; the
# allocation counts are MicroPython's (gc.mem_alloc), CPython runs the same paths without them.
# MIT licence; part of ws2 for MicroPython.
import gc
import sys

import ws2

TIMEOUT = 120

_MPY = sys.implementation.name == "micropython"
_SOCKETS = 8
_IDLE_WAKEUPS = 200
_DATA_ROUNDS = 48
# A GC block is 4 machine words (MICROPY_BYTES_PER_GC_BLOCK): 16 bytes on a 32-bit board, 32 on the
# 64-bit virtual board. A wake-up with data allocates only the FD_READ peek's answer: the 1-byte
# bytes object, its buffer and WSPRecv's (data, flags) tuple, one block each.
_BLOCK = 4 * (8 if sys.maxsize > 0xFFFFFFFF else 4)
_DATA_WAKEUP_BOUND = 3 * _BLOCK


def _start():
    ws2.WSAStartup(0x0202)


def _stop():
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            return


def _alloc():
    return gc.mem_alloc() if _MPY else 0


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
    _start()
    try:
        from ws2 import netevents

        socks, events = _open(env)
        for _ in range(3):  # the first pumps build the groups, load wspm_ext and make its poller
            netevents.pump(1)
        _check_pump_uses_wspm_poller()
        gc.collect()
        before = _alloc()
        for _ in range(_IDLE_WAKEUPS):
            assert netevents.pump(1)  # 1 ms with nothing ready: a timeout slice
        grew = _alloc() - before
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
            before = _alloc()
            got = ws2.WSAWaitForMultipleEvents(events, False, 500 * k, False)
            cost[k] = _alloc() - before
            assert got == timeout, got
        assert cost[1] == cost[0], "WSAWaitForMultipleEvents: 0 ms %d bytes, 500 ms %d bytes" % tuple(cost)
        ws2.sleep_alertable(0)
        gc.collect()
        before = _alloc()
        assert ws2.sleep_alertable(300) == 0
        grew = _alloc() - before
        assert grew == 0, "sleep_alertable(300) allocated %d bytes" % grew
        for s in socks:
            ws2.closesocket(s)
    finally:
        _stop()


def test_data_wakeups_allocate_little(env):
    _start()
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
                before = _alloc()
                netevents.pump(50)
                total += _alloc() - before
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
        _stop()


def test_closed_and_cancelled_sockets_leave_the_poller(env):
    # Sockets closed or cancelled while the pump watches them must not make it wake (a closed
    # socket reports POLLNVAL, a stale one would spin) nor be reported as someone else's.
    _start()
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
        _stop()


def test_two_threads_wait_at_once(env):
    # One thread pumps at a time (the groups and wspm's poller have one user); a second waiter
    # meanwhile sleeps short slices and still sees its event, set by the pumping thread.
    try:
        import _thread
    except ImportError:
        env.skip("no _thread on this port")
    import time

    _start()
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
        _stop()


def test_cleanup_ends_registrations_and_requests(env):
    # WSACleanup closes sockets as closesocket does: their WSAEventSelect registrations and pending
    # overlapped requests end with them, so nothing stale is left for the pump after a restart.
    _start()
    from ws2 import netevents, overlapped

    socks, events = _open(env)
    ov = ws2.WSAOverlapped()
    try:
        ws2.WSARecv(socks[0], bytearray(16), 0, ov)
    except ws2.WSAError as e:
        assert e.args[0] == ws2.WSA_IO_PENDING, e
    assert len(netevents.regs) == _SOCKETS and overlapped.pending
    _stop()
    assert not netevents.regs and not overlapped.pending
    assert ov.error == ws2.WSA_OPERATION_ABORTED, ov.error
