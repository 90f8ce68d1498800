# Device tests: ws2/state: the last error, set and read, one per thread, in a bounded table.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import err


# The emulated RP2040 (docs/emulator.md) runs one core.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_last_error_is_per_thread': "one emulated core: _thread.start_new_thread hangs",
    'test_last_error_table_stays_bounded': "one emulated core: _thread.start_new_thread hangs",
}}


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
