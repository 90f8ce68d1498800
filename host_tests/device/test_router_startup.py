# Device tests: WSAStartup version rows (docs/winsock.md), reference counting, per-thread last
# error, ws2.config validation, byte order. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import JUNK, err, stop

# The emulated RP2040 (docs/emulator.md) runs one core.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_last_error_is_per_thread': "one emulated core: _thread.start_new_thread hangs",
    'test_last_error_table_stays_bounded': "one emulated core: _thread.start_new_thread hangs",
}}


def W(major, minor):
    return major | (minor << 8)


# requested (major, minor) -> negotiated (major, minor), or None for WSAVERNOTSUPPORTED
VERSION_ROWS = (
    ((0, 0), None), ((0, 9), None), ((0, 255), None),
    ((1, 0), (1, 0)), ((1, 1), (1, 1)), ((1, 2), (1, 1)), ((1, 15), (1, 1)), ((1, 255), (1, 1)),
    ((2, 0), (2, 0)), ((2, 1), (2, 1)), ((2, 2), (2, 2)), ((2, 3), (2, 2)), ((2, 255), (2, 2)),
    ((3, 0), (2, 2)), ((3, 5), (2, 2)), ((15, 255), (2, 2)), ((255, 255), (2, 2)),
)


def test_wsastartup_version_rows():
    stop()
    for req, got in VERSION_ROWS:
        for arg in (W(req[0], req[1]), req):  # a WORD or a (major, minor) tuple
            ws2.WSASetLastError(JUNK)
            if got is None:
                try:
                    ws2.WSAStartup(arg)
                    raise AssertionError("WSAStartup(%r) succeeded" % (req,))
                except ws2.WSAError as e:
                    assert e.errno == ws2.WSAVERNOTSUPPORTED, (req, e)
                # as Windows: the last error says ws2 is not started, and it is not
                assert ws2.WSAGetLastError() == ws2.WSANOTINITIALISED, req
                err(ws2.WSANOTINITIALISED, ws2.WSAEnumProtocols)
                continue
            d = ws2.WSAStartup(arg)
            try:
                assert d.version == W(got[0], got[1]), (req, hex(d.version))
                assert d.high_version == 0x0202
                assert d.description == "WinSock 2.0" and d.system_status == "Running"
                v1 = got[0] == 1
                assert d.max_sockets == (32767 if v1 else 0) and d.max_udp_dg == (65467 if v1 else 0), req
                assert ws2.WSAGetLastError() == 0, req
            finally:
                ws2.WSACleanup()
    err(ws2.WSANOTINITIALISED, ws2.WSACleanup)


def test_wsastartup_bad_arguments():
    stop()
    for bad in ("2.2", None, -1, 0x10000, 2.2, True, (2,), (2, 2, 0), (256, 0), (2, "2"), [2, 2]):
        err(ws2.WSAEINVAL, ws2.WSAStartup, bad)
    err(ws2.WSANOTINITIALISED, ws2.WSAEnumProtocols)


def test_reference_count_and_process_version():
    from ws2 import state

    stop()
    ws2.WSAStartup(0x0202)
    assert ws2.WSAStartup(W(1, 1)).version == W(1, 1)  # a second start gets what it asked for
    assert state.version == W(1, 1)  # the process version only goes down
    assert ws2.WSAStartup(0x0202).version == 0x0202 and state.version == W(1, 1)
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.WSACleanup()
    ws2.WSACleanup()
    ws2.closesocket(ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0))  # still started: one reference left
    ws2.WSACleanup()  # the last one closes every socket
    err(ws2.WSANOTINITIALISED, ws2.WSACleanup)
    err(ws2.WSANOTINITIALISED, ws2.send, s, b"x")
    ws2.WSAStartup(0x0202)
    try:
        err(ws2.WSAENOTSOCK, ws2.send, s, b"x")  # WINE test_WithWSAStartup: the handle is gone
        err(ws2.WSAENOTSOCK, ws2.closesocket, s)
    finally:
        ws2.WSACleanup()


def test_last_error_set_and_get():
    ws2.WSASetLastError(ws2.WSAEWOULDBLOCK)
    assert ws2.WSAGetLastError() == ws2.WSAEWOULDBLOCK
    ws2.WSASetLastError(0)
    assert ws2.WSAGetLastError() == 0
    err(ws2.WSAEINVAL, ws2.WSASetLastError, "10035")


def test_last_error_is_per_thread(env):
    try:
        import _thread
    except ImportError:
        env.skip("this port has no threads")
    import time

    seen = []

    def worker():
        ws2.WSASetLastError(ws2.WSAECONNRESET)
        time.sleep(0.2)  # the main thread sets its own error meanwhile
        seen.append(ws2.WSAGetLastError())
        try:
            ws2.send(7, b"")
        except ws2.WSAError:
            pass
        seen.append(ws2.WSAGetLastError())

    ws2.WSASetLastError(ws2.WSAEINVAL)
    _thread.start_new_thread(worker, ())
    time.sleep(0.05)
    ws2.WSASetLastError(ws2.WSAEFAULT)
    for _ in range(100):
        if len(seen) == 2:
            break
        time.sleep(0.05)
    assert seen[0] == ws2.WSAECONNRESET, seen
    assert seen[1] in (ws2.WSANOTINITIALISED, ws2.WSAENOTSOCK), seen
    assert ws2.WSAGetLastError() == ws2.WSAEFAULT  # untouched by the other thread


def test_last_error_table_stays_bounded(env):
    # Threads that ended leave no unbounded trail of last-error entries behind.
    try:
        import _thread
    except ImportError:
        env.skip("this port has no threads")
    import time

    from ws2 import state

    done = []

    def worker(k):
        ws2.WSASetLastError(10000 + k)
        done.append(ws2.WSAGetLastError() == 10000 + k)

    for k in range(3 * state._MAX_THREADS):
        _thread.start_new_thread(worker, (k,))
        for _ in range(100):  # one at a time: boards run few threads at once
            if len(done) > k:
                break
            time.sleep(0.01)
    assert len(done) == 3 * state._MAX_THREADS and all(done), done
    assert len(state._last_error) <= state._MAX_THREADS, len(state._last_error)
    ws2.WSASetLastError(ws2.WSAEINVAL)
    assert ws2.WSAGetLastError() == ws2.WSAEINVAL


def test_config_validation():
    from ws2 import settings

    settings.reset()
    try:
        cur = ws2.config()
        for k in ("dns_servers", "dns_timeout_ms", "hosts", "tls_ca_file", "max_sockets"):
            assert k in cur, k
        bad = (
            {"dns_server": []}, {"Hosts": {}}, {"dns_servers": "8.8.8.8"}, {"dns_servers": [("8.8.8.8",)]},
            {"dns_servers": [("8.8.8.8", "53")]}, {"dns_servers": [("8.8.8.8", 0)]}, {"dns_servers": [("dns.example", 53)]},
            {"dns_servers": [(None, 53)]}, {"dns_timeout_ms": "2000"}, {"dns_timeout_ms": -1}, {"dns_timeout_ms": True},
            {"dns_timeout_ms": 1.5}, {"hosts": []}, {"hosts": {"a": 5}}, {"hosts": {"a": "not-an-ip"}}, {"hosts": {"": "1.2.3.4"}},
            {"tls_ca_file": None}, {"max_sockets": 256}, {"max_sockets": -1}, {"max_sockets": "8"},
        )
        for kw in bad:
            e = err(ws2.WSAEINVAL, lambda: ws2.config(**kw))
            key = list(kw)[0]
            assert key in str(e), (kw, str(e))  # the message names the setting
            assert ws2.config() == cur, kw  # nothing changed
        e = err(ws2.WSAEINVAL, lambda: ws2.config(dns_server=[]))
        assert "known:" in str(e) and "dns_servers" in str(e)
        got = ws2.config(dns_servers=[("10.0.0.1", 53), ["::1", 5353]], hosts={"printer": "10.0.0.9"})
        assert got["dns_servers"] == [["10.0.0.1", 53], ["::1", 5353]] and got["hosts"] == {"printer": "10.0.0.9"}
        settings.forget()  # what a reboot does: read back from flash
        assert ws2.config()["dns_servers"] == [["10.0.0.1", 53], ["::1", 5353]]
    finally:
        settings.reset()
    assert ws2.config() == cur


def test_byte_order_and_text_addresses():
    # These need no WSAStartup (they are not SPI functions).
    stop()
    little = sys.byteorder == "little"
    assert ws2.htons(0x1234) == (0x3412 if little else 0x1234)
    assert ws2.ntohs(ws2.htons(0xBEEF)) == 0xBEEF
    assert ws2.htonl(0x12345678) == (0x78563412 if little else 0x12345678)
    assert ws2.ntohl(ws2.htonl(0xFFFFFFFE)) == 0xFFFFFFFE
    for fn, x in ((ws2.htons, 0x10000), (ws2.htons, -1), (ws2.htonl, 1 << 32), (ws2.ntohl, "1")):
        err(ws2.WSAEINVAL, fn, x)
    rows = (
        (ws2.AF_INET, "10.0.0.5", b"\x0a\x00\x00\x05"), (ws2.AF_INET, "255.255.255.255", b"\xff" * 4),
        (ws2.AF_INET6, "::", bytes(16)), (ws2.AF_INET6, "::1", bytes(15) + b"\x01"),
        (ws2.AF_INET6, "::ffff:10.0.0.5", bytes(10) + b"\xff\xff\x0a\x00\x00\x05"),
        (ws2.AF_INET6, "2001:db8::5", b"\x20\x01\x0d\xb8" + bytes(11) + b"\x05"),
        (ws2.AF_INET6, "1:0:0:2::3", b"\x00\x01\x00\x00\x00\x00\x00\x02" + bytes(6) + b"\x00\x03"),
    )
    for af, text, packed in rows:
        assert ws2.inet_pton(af, text) == packed, text
        assert ws2.inet_ntop(af, packed) == text, text
    assert ws2.inet_pton(ws2.AF_INET6, "2001:DB8:0:0:0:0:0:5") == rows[5][2]
    for af, text in ((ws2.AF_INET, "1.2.3"), (ws2.AF_INET, "01.2.3.4"), (ws2.AF_INET6, "1::2::3"),
                     (ws2.AF_INET6, "::1.2.3.4.5"), (ws2.AF_INET6, "12345::")):
        err(ws2.WSAEINVAL, ws2.inet_pton, af, text)
    err(ws2.WSAEFAULT, ws2.inet_pton, ws2.AF_INET, None)
    err(ws2.WSAEAFNOSUPPORT, ws2.inet_pton, 99, "1.2.3.4")
    err(ws2.WSAEINVAL, ws2.inet_ntop, ws2.AF_INET6, bytes(4))
    err(ws2.WSAEFAULT, ws2.inet_ntop, ws2.AF_INET, None)
