# Device tests: the faults layer (providers/faults.py) and what the rest of ws2 does under its faults:
# nspm's retries and TCP fallback, ssllsp failing cleanly, events and overlapped I/O reporting errors, a
# reconnecting client loop. Fixed seeds throughout. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import raises

ENV = ("dns_server", "tls_server")
TIMEOUT = 120
_faults = None


def start(over):
    """Faults chains over the given catalog ids, put first; WSAStartup."""
    from providers import lspinst

    ws2.catalog.reset()
    chains = lspinst.install("faults", over, first=True)
    ws2.WSAStartup(0x0202)
    return chains


def stop(**restore):
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break
    settings = {"faults": {}}
    settings.update(restore)
    ws2.config(**settings)
    ws2.catalog.reset()


def module():
    return sys.modules["providers.faults"]


def tcp(env):
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(s, (env.host_ip, env.tcp_echo_port))
    return s


def live_handles():
    from ws2 import handles

    return sum(1 for h in handles.live if h > 0)


def _until_quiet(s):
    # The datagrams that arrive until the receive timeout.
    got = []
    while True:
        try:
            got.append(ws2.recvfrom(s, 64)[0])
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAETIMEDOUT, e
            return got


def _udp_run(env, seed):
    # 20 datagrams out through a plan on this socket; what came back, and the plan's counts.
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 400)
    ws2.WSAIoctl(s, ws2.SIO_FAULTS_SET, {"seed": seed, "dir": "out", "drop": 250, "dup": 150, "corrupt": 150,
                                          "truncate": 100, "reorder": 150})
    for i in range(20):
        assert ws2.sendto(s, b"datagram %02d" % i, (env.host_ip, env.udp_echo_port)) == 11
    got = _until_quiet(s)
    counts = ws2.WSAIoctl(s, ws2.SIO_FAULTS_GET)
    ws2.closesocket(s)
    return got, counts


def test_datagram_faults_are_seeded_reproducible_and_counted(env):
    start([1002])
    try:
        a, ca = _udp_run(env, 1)
        b, cb = _udp_run(env, 1)
        c, cc = _udp_run(env, 2)
        # the echo server answers on threads, so compare what came back, not its order
        assert sorted(a) == sorted(b) and ca == cb, (a, b, ca, cb)
        assert (sorted(a), ca) != (sorted(c), cc)
        for k in ("drop", "dup", "corrupt", "truncate", "reorder"):
            assert ca.get(k, 0) > 0, ca
        clean = [b"datagram %02d" % i for i in range(20)]
        assert len(a) == 20 - ca["drop"] + ca["dup"], (len(a), ca)
        assert len(set(d for d in a if d not in clean)) <= ca["corrupt"] + ca["truncate"]  # dups come twice
    finally:
        stop()


def test_received_datagram_faults(env):
    start([1002])
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 400)
        ws2.WSAIoctl(s, ws2.SIO_FAULTS_SET, {"fail": [["recvfrom", 1, "drop"], ["recvfrom", 3, "dup"],
                                                       ["recvfrom", 4, "delay"]], "delay_ms": 50})
        for i in range(4):
            ws2.sendto(s, b"d%d" % i, (env.host_ip, env.udp_echo_port))
        got = _until_quiet(s)
        # d0 dropped; d2 twice; d3 held back 50 ms (still delivered)
        assert got == [b"d1", b"d2", b"d2", b"d3"], got
        assert ws2.WSAIoctl(s, ws2.SIO_FAULTS_GET) == {"drop": 1, "dup": 1, "delay": 1}
        ws2.closesocket(s)
    finally:
        stop()


def test_nth_call_fails_with_the_chosen_error(env):
    start([1001])
    try:
        s = tcp(env)
        ws2.WSAIoctl(s, ws2.SIO_FAULTS_SET, {"fail": [["send", 2, ws2.WSAENOBUFS], ["recv", 2, ws2.WSAETIMEDOUT],
                                                       ["recv", 3, ws2.WSAEWOULDBLOCK], ["send", 4, ws2.WSAENETDOWN]]})
        assert ws2.send(s, b"one") == 3
        assert ws2.recv(s, 10) == b"one"
        raises(ws2.WSAENOBUFS, ws2.send, s, b"two")  # transient: the next send goes
        assert ws2.send(s, b"two") == 3
        raises(ws2.WSAETIMEDOUT, ws2.recv, s, 10)
        raises(ws2.WSAEWOULDBLOCK, ws2.recv, s, 10)
        assert ws2.recv(s, 10) == b"two"
        raises(ws2.WSAENETDOWN, ws2.send, s, b"x")  # connection-ending: it stays
        raises(ws2.WSAENETDOWN, ws2.recv, s, 10)
        assert ws2.WSAIoctl(s, ws2.SIO_FAULTS_GET) == {"error": 4}  # injected; not the repeats of the last
        ws2.closesocket(s)
        # a bad plan is refused with WSAEINVAL, saying what is wrong
        s = tcp(env)
        e = raises(ws2.WSAEINVAL, ws2.WSAIoctl, s, ws2.SIO_FAULTS_SET, {"fail": [["recv", 0, 10054]]})
        assert "fail entry" in str(e), e
        raises(ws2.WSAEINVAL, lambda: ws2.config(faults={"x": {}}))
        ws2.closesocket(s)
    finally:
        stop()


def test_short_sends_short_reads_and_a_peer_that_closes(env):
    start([1001])
    try:
        s = tcp(env)
        ws2.WSAIoctl(s, ws2.SIO_FAULTS_SET, {"split_send": 7, "split_recv": 5, "close_after": 12})
        assert ws2.send(s, b"0123456789abcdef") == 7
        assert ws2.send(s, b"789abcdef") == 7
        got = b""
        while len(got) < 12:
            d = ws2.recv(s, 100)
            assert 0 < len(d) <= 5, d
            got += d
        assert got == b"0123456789ab"
        assert ws2.recv(s, 100) == b""  # the "peer" closed after 12 bytes
        raises(ws2.WSAECONNRESET, ws2.send, s, b"more")
        counts = ws2.WSAIoctl(s, ws2.SIO_FAULTS_GET)
        assert counts["short_send"] == 2 and counts["short_recv"] >= 2 and counts["peer_close"] == 1, counts
        ws2.closesocket(s)
    finally:
        stop()


def test_stalled_connect_times_out():
    start([1001])
    try:
        ws2.config(faults={"*": {"stall_connect_ms": 150}})
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        raises(ws2.WSAETIMEDOUT, ws2.connect, s, ("127.0.0.1", 9))
        assert module().plan_for("*").counts == {"stall": 1}
        ws2.closesocket(s)
    finally:
        stop()


def test_stalled_non_blocking_connect_reports_its_error(env):
    start([1001])
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        # A stall long enough that a loaded machine still looks before it ends.
        ws2.WSAIoctl(s, ws2.SIO_FAULTS_SET, {"stall_connect_ms": 1500})
        ws2.ioctlsocket(s, ws2.FIONBIO, 1)
        raises(ws2.WSAEWOULDBLOCK, ws2.connect, s, (env.host_ip, env.tcp_echo_port))
        r, w, x = ws2.select([], [s], [s], 0)
        assert (w, x) == ([], []), (w, x)  # not connected, not failed yet
        r, w, x = ws2.select([], [s], [s], 10)
        assert w == [] and x == [s], (w, x)  # failed, as a refused or timed-out connect reports
        assert ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ERROR) == ws2.WSAETIMEDOUT
        ws2.closesocket(s)
    finally:
        stop()


def test_event_select_reports_fd_close_and_its_error(env):
    start([1001])
    try:
        for code in (0, ws2.WSAECONNRESET):
            s = tcp(env)
            ev = ws2.WSACreateEvent()
            ws2.WSAEventSelect(s, ev, ws2.FD_READ | ws2.FD_CLOSE)
            ws2.WSAIoctl(s, ws2.SIO_FAULTS_PEER_CLOSE, code)
            got, errs = 0, 0
            for _ in range(30):
                ws2.WSAWaitForMultipleEvents([ev], False, 100, False)
                e, codes = ws2.WSAEnumNetworkEvents(s, ev)
                got |= e
                if e & ws2.FD_CLOSE:
                    errs = codes[ws2.FD_CLOSE_BIT]
                    break
            assert got & ws2.FD_CLOSE and errs == code, (code, got, errs)
            ws2.WSAEventSelect(s, None, 0)
            ws2.closesocket(s)
            ws2.WSACloseEvent(ev)
    finally:
        stop()


def test_overlapped_recv_reports_the_injected_error(env):
    start([1001])
    try:
        s = tcp(env)
        ev = ws2.WSACreateEvent()
        ov = ws2.WSAOverlapped(ev)
        buf = bytearray(16)
        raises(ws2.WSA_IO_PENDING, ws2.WSARecv, s, [buf], 0, ov)  # nothing to read yet
        ws2.WSAIoctl(s, ws2.SIO_FAULTS_PEER_CLOSE, ws2.WSAECONNRESET)  # then the connection is reset
        assert ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) == 0
        raises(ws2.WSAECONNRESET, ws2.WSAGetOverlappedResult, s, ov, False)
        ws2.closesocket(s)
        ws2.WSACloseEvent(ev)
    finally:
        stop()


def test_reconnecting_client_loop_recovers(env):
    start([1001])
    try:
        # chain-wide: one plan over every connection of the chain, so the faults land on different connections
        ws2.config(faults={"*": {"seed": 3, "fail": [["recv", 2, ws2.WSAECONNRESET], ["connect", 2, ws2.WSAECONNREFUSED],
                                                     ["send", 5, ws2.WSAENETDOWN]]}})
        done, errors, s = 0, [], None
        for _ in range(20):  # the loop MicroPython users write: on OSError, close and connect again
            try:
                if s is None:
                    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
                    ws2.connect(s, (env.host_ip, env.tcp_echo_port))
                msg = b"reading %d" % done
                ws2.send(s, msg)
                assert ws2.recv(s, 64) == msg
                done += 1
                if done == 5:
                    break
            except OSError as e:
                errors.append(e.errno)
                if s is not None:
                    ws2.closesocket(s)
                s = None
        assert done == 5, (done, errors)
        assert errors == [ws2.WSAECONNRESET, ws2.WSAECONNREFUSED, ws2.WSAENETDOWN], errors
        assert module().plan_for("*").counts == {"error": 3}
        ws2.closesocket(s)
    finally:
        stop()


def test_nspm_retries_rotates_and_falls_back_to_tcp(env):
    start([1001, 1002])
    try:
        ok = [env.dns_ip, env.dns_port]
        ws2.config(dns_servers=[ok, ok], dns_timeout_ms=3000)
        # the first query is lost on the way out (recv 1 times out), the next answer is cut: nspm asks again
        ws2.config(faults={"*": {"fail": [["send", 1, "drop"], ["recv", 2, "truncate"]]}})
        addrs = ws2.getaddrinfo("a.ws2.test", 80, ws2.AF_INET)
        assert addrs and addrs[0][4][0] == "192.0.2.1", addrs
        assert module().plan_for("*").counts == {"drop": 1, "truncate": 1}
        # a big answer comes back TC over UDP (after a dropped first try) and is fetched over TCP
        ws2.config(faults={"*": {"fail": [["recv", 1, "drop"]]}})
        addrs = ws2.getaddrinfo("big.ws2.test", 80, ws2.AF_INET)
        # more A records than a 512-byte datagram holds (30 at most), so they came over TCP (nspm keeps 32)
        assert len(set(a[4][0] for a in addrs)) > 30, addrs
        assert module().plan_for("*").counts == {"drop": 1}
        # every datagram lost: a clean WSA error, not a hang
        ws2.config(faults={"*": {"drop": 1000}}, dns_timeout_ms=600)
        raises(ws2.WSATRY_AGAIN, ws2.getaddrinfo, "b.ws2.test", 80, ws2.AF_INET)
    finally:
        stop(dns_servers=[], dns_timeout_ms=2000)


def _ca(env):
    from ws2 import board

    import os

    try:
        os.mkdir(board.root())
    except OSError:
        pass
    path = board.root() + "/ca.pem"
    with open(path, "w") as f:
        f.write(env.tls_ca_pem)
    ws2.config(tls_ca_file=path)


def test_ssllsp_fails_cleanly_under_a_reset_and_a_corrupted_record(env):
    from providers import lspinst

    chains = start([1001])
    try:
        _ca(env)
        tls = lspinst.ssllsp_over(chains[0])  # TLS over faults over wspm: faults sees the TLS records
        info = [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == tls][0]
        before = live_handles()
        for plan, codes in (({"fail": [["recv", 2, ws2.WSAECONNRESET]]}, (ws2.WSAECONNRESET,)),
                            ({"fail": [["recv", 1, "close"]]}, (ws2.WSAECONNRESET, ws2.WSAECONNABORTED)),
                            ({"fail": [["recv", 2, "corrupt"], ["recv", 3, "corrupt"], ["recv", 4, "corrupt"]]},
                             (ws2.WSAECONNABORTED, ws2.WSAEACCES))):
            import gc

            gc.collect()  # each TLS session wants whole blocks of the board-sized heap
            ws2.config(faults={"*": plan})
            s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, info)
            ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_SECURE, ws2.SO_SEC_SSL)
            ws2.WSAIoctl(s, ws2.SO_SSL_SET_PEERNAME, env.tls_name)
            try:
                ws2.connect(s, (env.host_ip, env.tls_echo_port))
                ws2.send(s, b"x" * 100)
                ws2.recv(s, 100)
                raise AssertionError("no error under %r" % (plan,))
            except ws2.WSAError as e:
                assert e.errno in codes, (plan, e)
            ws2.closesocket(s)
            assert live_handles() == before, (plan, live_handles(), before)
        # and the same chain without faults still works
        ws2.config(faults={})
        s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, info)
        ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_SECURE, ws2.SO_SEC_SSL)
        ws2.WSAIoctl(s, ws2.SO_SSL_SET_PEERNAME, env.tls_name)
        ws2.connect(s, (env.host_ip, env.tls_echo_port))
        ws2.send(s, b"hello")
        assert ws2.recv(s, 100) == b"hello"
        ws2.closesocket(s)
    finally:
        stop(tls_ca_file="")


def test_socket_drop_in_raises_the_ports_errno(env):
    try:
        import ws2.compat as compat
    except ImportError:
        env.skip("ws2.compat (the socket drop-in) is not in this build")
    start([1001])
    try:
        ws2.config(faults={"*": {"fail": [["recv", 1, ws2.WSAECONNRESET]]}})
        s = compat.socket(compat.AF_INET, compat.SOCK_STREAM)
        s.connect((env.host_ip, env.tcp_echo_port))
        s.send(b"x")
        try:
            s.recv(10)
            raise AssertionError("no error")
        except OSError as e:
            import errno

            assert e.errno == errno.ECONNRESET, e
        s.close()
    finally:
        stop()
