# Device tests of ws2/overlapped: overlapped I/O completed by event or by completion routine, and
# aborted by closesocket. Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.

import time

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_overlapped_recv_by_event': 'no network on the emulated board',
    'test_overlapped_completion_routine_waits_for_alertable': 'no network on the emulated board',
    'test_close_aborts_pending_overlapped': 'no network on the emulated board',
}}


def test_overlapped_recv_by_event(env):
    ioh.start()
    try:
        s = ioh.tcp(env)
        ev = ws2.WSACreateEvent()
        ov = ws2.WSAOverlapped(ev)
        buf = bytearray(16)
        ioh.expect(ws2.WSA_IO_PENDING, ws2.WSARecv, s, [buf], 0, ov)
        ioh.expect(ws2.WSA_IO_INCOMPLETE, ws2.WSAGetOverlappedResult, s, ov, False)
        assert ws2.WSASend(s, [b"over", b"lapped"]) == 10
        assert ws2.WSAWaitForMultipleEvents([ev], False, 3000, False) == 0
        n, fl = ws2.WSAGetOverlappedResult(s, ov, False)
        # TCP may complete the receive with the first echoed segment only
        assert 1 <= n <= 10 and fl == 0, (n, fl)
        got = bytes(buf[:n])
        while len(got) < 10:
            got += ws2.recv(s, 10 - len(got))
        assert got == b"overlapped"
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_overlapped_completion_routine_waits_for_alertable(env):
    ioh.start()
    try:
        s = ioh.tcp(env)
        done = []
        ov = ws2.WSAOverlapped()
        buf = bytearray(8)
        ioh.expect(ws2.WSA_IO_PENDING, ws2.WSARecv, s, buf, 0, ov,
                lambda err, n, o, fl: done.append((err, n, o is ov)))
        ws2.send(s, b"12345678")
        ev = ws2.WSACreateEvent()
        # a non-alertable wait drives the request but never runs the routine
        ws2.WSAWaitForMultipleEvents([ev], False, 300, False)
        assert ov.done and done == []
        assert ws2.WSAWaitForMultipleEvents([ev], False, 1000, True) == ws2.WSA_WAIT_IO_COMPLETION
        assert done == [(0, 8, True)]
        assert bytes(buf) == b"12345678"
        # completing at once still queues the routine (and signals the event)
        ws2.send(s, b"abcd")
        time.sleep(0.2)
        ov2 = ws2.WSAOverlapped(ev)
        got = ws2.WSARecv(s, bytearray(4), 0, ov2, lambda err, n, o, fl: done.append((err, n, "now")))
        assert got == (4, 0) and ev.signalled
        assert ws2.sleep_alertable(10) == ws2.WSA_WAIT_IO_COMPLETION
        assert done[-1] == (0, 4, "now")
        ws2.closesocket(s)
    finally:
        ioh.stop()


def test_close_aborts_pending_overlapped(env):
    ioh.start()
    try:
        s = ioh.tcp(env)
        done = []
        ev = ws2.WSACreateEvent()
        ov = ws2.WSAOverlapped(ev)
        ioh.expect(ws2.WSA_IO_PENDING, ws2.WSARecv, s, bytearray(8), 0, ov,
                lambda err, n, o, fl: done.append(err))
        ws2.closesocket(s)
        assert ev.signalled and ov.error == ws2.WSA_OPERATION_ABORTED
        ws2.sleep_alertable(10)
        assert done == [ws2.WSA_OPERATION_ABORTED]
    finally:
        ioh.stop()
