# Device tests of ws2/event: event objects and WSAWaitForMultipleEvents.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.

import time

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_wait_timeout_does_not_spin': 'no network on the emulated board',
}}


def test_event_objects():
    ioh.start()
    try:
        e1 = ws2.WSACreateEvent()
        e2 = ws2.WSACreateEvent()
        assert ws2.WSAWaitForMultipleEvents([e1, e2], False, 0, False) == ws2.WSA_WAIT_TIMEOUT
        ws2.WSASetEvent(e2)
        assert ws2.WSAWaitForMultipleEvents([e1, e2], False, 0, False) == ws2.WSA_WAIT_EVENT_0 + 1
        assert ws2.WSAWaitForMultipleEvents([e1, e2], True, 0, False) == ws2.WSA_WAIT_TIMEOUT
        ws2.WSASetEvent(e1)
        assert ws2.WSAWaitForMultipleEvents([e1, e2], True, 0, False) == ws2.WSA_WAIT_EVENT_0
        ws2.WSAResetEvent(e1)  # manual reset: stays signalled until reset
        assert ws2.WSAWaitForMultipleEvents([e1], False, 0, False) == ws2.WSA_WAIT_TIMEOUT
        ws2.WSACloseEvent(e1)
        ioh.expect(ws2.WSA_INVALID_HANDLE, ws2.WSASetEvent, e1)
        ioh.expect(ws2.WSA_INVALID_HANDLE, ws2.WSAWaitForMultipleEvents, [e1], False, 0, False)
        ioh.expect(ws2.WSA_INVALID_HANDLE, ws2.WSAWaitForMultipleEvents, ["nope"], False, 0, False)
        many = [ws2.WSACreateEvent() for _ in range(ws2.WSA_MAXIMUM_WAIT_EVENTS)]
        ws2.WSASetEvent(many[63])
        assert ws2.WSAWaitForMultipleEvents(many, False, 0, False) == 63
        ioh.expect(ws2.WSA_INVALID_PARAMETER, ws2.WSAWaitForMultipleEvents, many + [e2], False, 0, False)
        ioh.expect(ws2.WSA_INVALID_PARAMETER, ws2.WSAWaitForMultipleEvents, [], False, 0, False)
    finally:
        ioh.stop()


def test_wait_timeout_does_not_spin(env):
    ioh.start()
    try:
        from ws2 import netevents

        s = ioh.tcp(env)
        ev = ws2.WSACreateEvent()
        ws2.WSAEventSelect(s, ev, ws2.FD_READ)
        calls = [0]
        real = netevents.pump

        def counting(ms):
            calls[0] += 1
            return real(ms)

        netevents.pump = counting
        try:
            t0 = time.time()
            assert ws2.WSAWaitForMultipleEvents([ev], False, 1000, False) == ws2.WSA_WAIT_TIMEOUT
            took = time.time() - t0
        finally:
            netevents.pump = real
        assert 0.9 <= took < 3, took
        assert calls[0] <= 30, "a 1 s wait woke %d times" % calls[0]
        ws2.closesocket(s)
    finally:
        ioh.stop()
