# Device tests of ws2/blocking: WSACancelBlockingCall from another thread, Winsock 1 blocking hooks,
# and a socket shared with a second thread. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import time

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_duplicated_socket_from_second_thread': "one emulated core: _thread.start_new_thread hangs",
    'test_cancel_blocking_call_from_another_thread': "one emulated core: _thread.start_new_thread hangs",
}}


def test_duplicated_socket_from_second_thread(env):
    _thread = ioh.threads(env)
    ioh.start()
    try:
        s = ioh.tcp(env)
        info = ws2.WSADuplicateSocket(s, None)
        result = []

        def worker():
            try:
                d = ws2.WSASocket(ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO, info)
                ws2.send(d, b"from-thread")
                ws2.closesocket(d)
                result.append("ok")
            except Exception as e:
                result.append(repr(e))

        _thread.start_new_thread(worker, ())
        for _ in range(100):
            if result:
                break
            time.sleep(0.05)
        assert result == ["ok"], result
        # the duplicate was closed, the connection lives on through the original handle
        got = b""
        while len(got) < 11:
            got += ws2.recv(s, 32)
        assert got == b"from-thread"
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_cancel_blocking_call_from_another_thread(env):
    _thread = ioh.threads(env)
    ioh.start()
    try:
        s = ioh.tcp(env)
        me = _thread.get_ident()
        outcome = []
        returned = []

        def canceller():
            ioh.cancel_when_blocked(me, outcome, 40)
            # Bound the test: if the cancel is not heard, echo data ends the
            # receive, so the test fails instead of hanging the suite.
            for _ in range(60):
                if returned:
                    return
                time.sleep(0.05)
            ws2.send(s, b"unblock")

        _thread.start_new_thread(canceller, ())
        try:
            ioh.expect(ws2.WSAEINTR, ws2.recv, s, 10)  # nothing arrives: only the cancel ends it
        finally:
            returned.append(1)
        assert outcome == ["cancelled"], outcome
        ws2.send(s, b"ok")  # the socket is still usable
        assert ws2.recv(s, 10) == b"ok"
        ioh.expect(ws2.WSAEINVAL, ws2.WSACancelBlockingCall)  # nothing blocks now
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_winsock1_blocking_hooks_answer_as_winsock2(env):
    ioh.start()
    try:
        ioh.expect(ws2.WSAEOPNOTSUPP, ws2.WSASetBlockingHook, lambda: True)
        ioh.expect(ws2.WSAEOPNOTSUPP, ws2.WSAUnhookBlockingHook)
        assert ws2.WSAIsBlocking() is False
    finally:
        ioh.stop()
