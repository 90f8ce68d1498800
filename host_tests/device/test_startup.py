# Device tests: ws2/startup: the WSAStartup version rows (docs/winsock.md), bad arguments, reference counting
# and the process version, and calls made before WSAStartup. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import JUNK, err, stop


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


def test_calls_before_startup_fail(env):
    while True:  # make sure nothing earlier left ws2 started
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            break
    for call in (lambda: ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0), lambda: ws2.send(257, b"x"),
                 lambda: ws2.WSAEnumProtocols(), lambda: ws2.WSACleanup()):
        ws2.WSASetLastError(JUNK)
        try:
            call()
            raise AssertionError("call before WSAStartup succeeded")
        except ws2.WSAError as e:
            assert e.errno == ws2.WSANOTINITIALISED, e
        assert ws2.WSAGetLastError() == ws2.WSANOTINITIALISED


def test_reset_returns_the_router_to_its_imported_state():
    # ws2._reset() is what the CPython harness runs between tests: it must work on the board too.
    from ws2 import catalog, handles, state

    stop()
    ws2.WSAStartup(0x0202)
    ws2.WSAStartup(0x0101)
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    assert state.started == 2 and state.version == 0x0101 and handles.capacity > 0 and catalog.loaded
    ws2._reset()
    assert state.started == 0 and state.version == 0 and handles.capacity == 0 and not catalog.loaded
    err(ws2.WSANOTINITIALISED, ws2.closesocket, s)
    assert ws2.WSAStartup(0x0202).version == 0x0202
    ws2.WSACleanup()
