# Device tests of ws2/sockselect: select and WSAPoll; a select loop (the same sets again and again)
# allocates only the lists select returns, and keeps its rules while it keeps its state between calls.
# Runs on CPython and on the board; the allocation counts are MicroPython's (gc.mem_alloc), CPython
# runs the same paths without them.
# MIT licence; part of ws2 for MicroPython.
import gc
import time

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_select_readiness': 'no network on the emulated board',
    'test_wsapoll': 'no network on the emulated board',
    'test_select_loop_allocates_only_its_lists': 'no network on the emulated board',
    'test_select_rules_hold_in_a_loop': 'no network on the emulated board',
    'test_select_sees_a_socket_connect_and_close': 'no network on the emulated board',
    'test_duplicated_handles_are_each_reported': 'no network on the emulated board',
    'test_select_across_providers': 'no network on the emulated board',
    'test_cancel_ends_a_long_select': "one emulated core: _thread.start_new_thread hangs",
    'test_threads_select_and_wait_at_once': "one emulated core: _thread.start_new_thread hangs",
}}

_SOCKETS = 8
_CALLS = 200
_BATCH = 50
# select's answer is a tuple of three lists: each list is an object (4 words) and an item array
# (4 words at first, room for 4 handles), one GC block each; the tuple (5 words) takes two. Eight
# blocks a call, on 32- and 64-bit boards alike.
_CALL_BOUND = 8 * ioh.BLOCK


# -- select and WSAPoll ----------------------------------------------------------------------

def test_select_readiness(env):
    ioh.start()
    try:
        s = ioh.tcp(env)
        r, w, x = ws2.select([s], [s], [], 0)
        assert r == [] and w == [s] and x == []
        ws2.send(s, b"ping")
        r, w, x = ws2.select([s], [], [], 5)
        assert r == [s]
        assert ws2.recv(s, 10) == b"ping"
        r, w, x = ws2.select([s], [], [], 0)  # timeout 0 polls
        assert r == []
        ioh.expect(ws2.WSAEINVAL, ws2.select, [], [], [], 0)
        ws2.closesocket(s)
        ioh.expect(ws2.WSAENOTSOCK, ws2.select, [s], [], [], 0)
    finally:
        ioh.stop()


def test_wsapoll(env):
    ioh.start()
    try:
        ls, c, a, _ = ioh.pair()
        fds = [ws2.WSAPOLLFD(c, ws2.POLLRDNORM | ws2.POLLWRNORM)]
        assert ws2.WSAPoll(fds, 0) == 1 and fds[0].revents == ws2.POLLWRNORM
        ws2.send(a, b"x")
        fds = [ws2.WSAPOLLFD(c, ws2.POLLRDNORM)]
        assert ws2.WSAPoll(fds, 2000) == 1 and fds[0].revents == ws2.POLLRDNORM
        ws2.recv(c, 1)
        ws2.closesocket(a)  # peer closes: POLLHUP
        fds = [ws2.WSAPOLLFD(c, ws2.POLLRDNORM)]
        assert ws2.WSAPoll(fds, 2000) == 1 and fds[0].revents & ws2.POLLHUP, fds
        stale = a
        fds = [ws2.WSAPOLLFD(stale, ws2.POLLRDNORM)]
        assert ws2.WSAPoll(fds, 0) == 1 and fds[0].revents == ws2.POLLNVAL
        ws2.closesocket(c)
        ws2.closesocket(ls)
    finally:
        ioh.stop()


# -- a select loop -----------------------------------------------------------------------------

def _before_threads(hs):
    # Load what the threads below load lazily (wspm's poller, the blocking-call state) before they start: two
    # threads importing at once can fail (wspm._part() may hand one of them the other's half-run module;
    # the virtual board's filesystem answered a concurrent import with ENOENT).
    from ws2 import blocking  # noqa: F401 (WSACancelBlockingCall, and select's wait slices, use it)

    assert ws2.select(hs, None, None, 0) == ([], [], [])


def _kept(s):
    # select's kept group for s's provider (None before the first select on it).
    from ws2 import handles

    return getattr(handles.prov[handles.slot(s)], "select_group", None)


def _cost(fn, *args):
    # Bytes allocated per call of fn(*args) over _CALLS calls (0 on CPython); the answer of the last call.
    # Counted in batches with no collection inside one (it would hide what the calls allocated); a
    # select that made garbage as it used to (~3 KB a call with 8 sockets) runs out of heap here.
    got = fn(*args)
    grew = 0
    for _ in range(_CALLS // _BATCH):
        gc.collect()
        gc.disable()
        try:
            before = ioh.alloc()
            for _ in range(_BATCH):
                got = fn(*args)
            grew += ioh.alloc() - before
        finally:
            gc.enable()
    return grew // _CALLS, got


def _loop(hs, r, w, x):
    return ws2.select(hs if r else None, hs if w else None, hs if x else None, 0)


def test_select_loop_allocates_only_its_lists(env):
    ioh.start()
    try:
        hs = ioh.udp(_SOCKETS)
        for _ in range(3):  # the first calls build the kept group, load wspm's poller part and make its poller
            ws2.select(hs, None, None, 0)
        g = _kept(hs[0])
        assert g is not None and g.n == _SOCKETS, g
        assert g.fast is not None, "wspm's select entry is not in use"
        first = g.gen
        # nothing ready: the read set, then read and except sets
        for r, w, x in ((1, 0, 0), (1, 0, 1)):
            _loop(hs, r, w, x)  # (a change of sets rebuilds the group once)
            gen = g.gen
            per_call, got = _cost(_loop, hs, r, w, x)
            assert got == ([], [], []), got
            assert g.gen == gen, "the same sets rebuilt the group"
            assert per_call <= _CALL_BOUND, "select over %d sockets (%d%d%d): %d bytes a call" % (
                _SOCKETS, r, w, x, per_call)
        # a datagram waiting: the socket is reported each time, still only the lists
        ws2.sendto(hs[0], b"q", (env.host_ip, env.udp_echo_port))
        r, _, _ = ws2.select(hs[3:4], None, None, 0)  # (another set between: the group is rebuilt)
        assert r == []
        r, _, _ = ws2.select(hs, None, None, 5)
        assert r == [hs[0]], r
        per_call, got = _cost(ws2.select, hs, None, None, 0)
        assert got == ([hs[0]], [], []), got
        assert per_call <= _CALL_BOUND, "select with one socket ready: %d bytes a call" % per_call
        assert g.gen != first and _kept(hs[0]) is g  # rebuilt when the sets changed, never replaced
        for s in hs:
            ws2.closesocket(s)
    finally:
        ioh.stop()


def test_select_rules_hold_in_a_loop(env):
    ioh.start()
    try:
        hs = ioh.udp(3)
        for _ in range(2):
            ioh.expect(ws2.WSAEINVAL, ws2.select, [], None, (), 0)
            ioh.expect(ws2.WSAEINVAL, ws2.select, None, None, None, 0)
            ioh.expect(ws2.WSAEINVAL, ws2.select, hs, None, None, -1)
            assert ws2.select(hs, None, None, 0) == ([], [], [])
        # writable UDP sockets: reported in the order of the set, once each, in every set asked
        r, w, x = ws2.select(hs[:1], [hs[2], hs[0], hs[2], hs[1]], hs, 0)
        assert r == [] and w == [hs[2], hs[0], hs[1]] and x == [], (r, w, x)
        r, w, x = ws2.select(hs[:1], [hs[2], hs[0], hs[2], hs[1]], hs, 0)
        assert w == [hs[2], hs[0], hs[1]], w
        # any iterable is a set (a generator is read once)
        assert ws2.select((h for h in hs), None, None, 0) == ([], [], [])
        # the same list object, its contents changed: select sees the new contents
        sets = [hs[0], hs[1]]
        assert ws2.select(sets, None, None, 0) == ([], [], [])
        ws2.sendto(hs[2], b"z", (env.host_ip, env.udp_echo_port))
        sets[1] = hs[2]
        r, _, _ = ws2.select(sets, None, None, 5)
        assert r == [hs[2]], r
        assert ws2.recvfrom(hs[2], 8)[0] == b"z"
        # a socket closed after a loop over it: WSAENOTSOCK, then the others go on
        ws2.closesocket(hs[1])
        ioh.expect(ws2.WSAENOTSOCK, ws2.select, hs, None, None, 0)
        ioh.expect(ws2.WSAENOTSOCK, ws2.select, hs, None, None, 0)
        assert ws2.select([hs[0], hs[2]], None, None, 0) == ([], [], [])
        # timeout 0 polls; a timeout waits it out
        t0 = time.time()
        assert ws2.select([hs[0], hs[2]], None, None, 0.3) == ([], [], [])
        took = time.time() - t0
        assert 0.2 <= took < 3, took
        ws2.closesocket(hs[0])
        ws2.closesocket(hs[2])
    finally:
        ioh.stop()


def test_select_sees_a_socket_connect_and_close(env):
    # The handles stay the same while the sockets change state: the kept poller must follow.
    ioh.start()
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        assert ws2.select([s], [s], [s], 0) == ([], [], [])  # a fresh stream socket is never ready
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        assert ws2.select([s], [s], [s], 0) == ([], [s], [])
        ws2.send(s, b"hello")
        r, w, x = ws2.select([s], [s], [s], 5)
        assert w == [s] and x == [], (r, w, x)
        r, _, _ = ws2.select([s], [], [], 5)
        assert r == [s]
        got = b""
        while len(got) < 5:
            got += ws2.recv(s, 16)
        assert got == b"hello"
        assert ws2.select([s], [], [], 0) == ([], [], [])
        ws2.closesocket(s)
        # the peer closes: readable, and recv tells the end
        ls, c, a, _ = ioh.pair()
        for _ in range(3):
            assert ws2.select([c, ls], None, [c], 0) == ([], [], [])
        ws2.closesocket(a)
        r, _, x = ws2.select([c, ls], None, [c], 5)
        assert r == [c] and x == [], (r, x)
        assert ws2.recv(c, 8) == b""
        # a listener with a connection waiting is readable
        c2 = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(c2, ("127.0.0.1", ws2.getsockname(ls)[1]))
        r, _, _ = ws2.select([ls], None, None, 5)
        assert r == [ls], r
        a2, _ = ws2.accept(ls)
        # both directions shut: the socket answers at once (as closed), however long the timeout
        ws2.shutdown(c2, ws2.SD_BOTH)
        t0 = time.time()
        r, w, _ = ws2.select([c2], [c2], None, 10)
        assert r == [c2] and w == [c2], (r, w)
        assert time.time() - t0 < 5
        for h in (c, c2, a2, ls):
            ws2.closesocket(h)
    finally:
        ioh.stop()


def test_duplicated_handles_are_each_reported(env):
    ioh.start()
    try:
        s = ioh.tcp(env)
        d = ws2.WSASocket(ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO,
                          ws2.WSADuplicateSocket(s, None))
        assert ws2.select([s, d], [d], None, 0) == ([], [d], [])
        ws2.send(d, b"dup")
        r, _, _ = ws2.select([s, d], None, None, 5)
        assert r == [s, d], (r, s, d)
        got = b""
        while len(got) < 3:
            got += ws2.recv(s, 8)
        assert got == b"dup"
        ws2.closesocket(d)
        assert ws2.select([s], None, None, 0) == ([], [], [])
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_select_across_providers(env):
    # Sockets of two providers in one select: WSAEINVAL. A layer without a select entry of its own is
    # asked through its WSPSelect, with its own kept group.
    ex = "{E0A5C1D2-0B7E-4C3A-9F11-2D4B6A8C0E13}"
    ioh.start()
    try:
        info = ws2.WSAProtocolInfo(service_flags1=0x26, provider_flags=0x08, protocol_chain=(), address_family=2,
                                   max_sockaddr=16, min_sockaddr=16, socket_type=1, protocol=6,
                                   protocol_name="example layer")
        chain = ws2.WSAProtocolInfo(service_flags1=0x26, provider_flags=0x08, protocol_chain=(0, 1001),
                                    address_family=2, max_sockaddr=16, min_sockaddr=16, socket_type=1, protocol=6,
                                    protocol_name="example over TCP")
        _, cid = ws2.WSCInstallProvider(ex, "providers.example_lsp", [info, chain])
        entry = [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == cid][0]
        lay = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, entry)
        ws2.connect(lay, (env.host_ip, env.tcp_echo_port))
        plain = ioh.tcp(env)
        ioh.expect(ws2.WSAEINVAL, ws2.select, [plain, lay], None, None, 0)
        ioh.expect(ws2.WSAEINVAL, ws2.select, [plain], [lay], None, 0)
        for _ in range(2):
            assert ws2.select([lay], None, None, 0) == ([], [], [])
            assert ws2.select([plain], None, None, 0) == ([], [], [])
        g = _kept(lay)
        assert g is not None and g.fast is None and _kept(plain) is not g
        ws2.send(lay, b"layered")
        r, w, _ = ws2.select([lay], [lay], None, 5)
        assert w == [lay], w
        for _ in range(50):
            if r:
                break
            r, _, _ = ws2.select([lay], None, None, 0.1)
        assert r == [lay], r
        ws2.closesocket(lay)
        ws2.closesocket(plain)
    finally:
        ioh.stop()
        ws2.catalog.reset()


def test_cancel_ends_a_long_select(env):
    _thread = ioh.threads(env)
    ioh.start()
    try:
        s = ioh.tcp(env)
        me = _thread.get_ident()
        outcome = []

        def canceller():
            if not ioh.cancel_when_blocked(me, outcome, 60):
                ws2.send(s, b"unblock")  # bound the test: data ends the select

        _before_threads([s])
        _thread.start_new_thread(canceller, ())
        t0 = time.time()
        ioh.expect(ws2.WSAEINTR, ws2.select, [s], None, None, None)
        assert time.time() - t0 < 10
        assert outcome == ["cancelled"], outcome
        # the kept state survives: the same select goes on working
        assert ws2.select([s], None, None, 0) == ([], [], [])
        ws2.send(s, b"ok")
        r, _, _ = ws2.select([s], None, None, 5)
        assert r == [s]
        assert ws2.recv(s, 8) == b"ok"
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_threads_select_and_wait_at_once(env):
    # One thread sits in a long select (it holds the kept group), another selects meanwhile (a group of
    # its own) and a third waits on an event (the pump): each sees its own socket's data.
    _thread = ioh.threads(env)
    ioh.start()
    try:
        a, b, c = ioh.tcp(env), ioh.tcp(env), ioh.tcp(env)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(c, ev, ws2.FD_READ)
        _before_threads([a, b, c])
        results = [None, None]
        done = [0]
        lock = _thread.allocate_lock()

        def selector():
            try:
                results[0] = ws2.select([a], None, None, 8)
            except Exception as e:  # reported by the main thread
                results[0] = e
            with lock:
                done[0] += 1

        def waiter():
            try:
                results[1] = ws2.WSAWaitForMultipleEvents([ev], False, 8000, False)
            except Exception as e:
                results[1] = e
            with lock:
                done[0] += 1

        _thread.start_new_thread(selector, ())
        _thread.start_new_thread(waiter, ())
        time.sleep(0.3)  # both waiting now
        ws2.send(b, b"b")
        t0 = time.time()
        got = ([], [], [])
        for _ in range(20):  # the main thread's selects: while the other one holds the kept group
            got = ws2.select([b], None, None, 0.2)
            if got[0]:
                break
        assert got == ([b], [], []), got
        assert time.time() - t0 < 3
        assert ws2.recv(b, 4) == b"b"
        ws2.send(c, b"c")
        ws2.send(a, b"a")
        while done[0] < 2 and time.time() - t0 < 10:
            time.sleep(0.01)
        assert results == [([a], [], []), 0], results
        assert ws2.recv(a, 4) == b"a"
        assert ws2.recv(c, 4) == b"c"
        for s in (a, b, c):
            ws2.closesocket(s)
    finally:
        ioh.stop()
