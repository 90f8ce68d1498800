# Helpers of the I/O-model device tests (test_sockselect, test_netevents, test_event, test_overlapped,
# test_sockio, test_blocking): uploaded beside them to the board (UPLOAD); on CPython host_tests/device is
# on the path, so `import io_helpers` works on both, as devhelp does.
# MIT licence; part of ws2 for MicroPython.
import gc
import sys
import time

import ws2
from devhelp import err as expect, stop  # noqa: F401 (the shared helpers, under the names these tests use)

MPY = sys.implementation.name == "micropython"
# A GC block is 4 machine words (MICROPY_BYTES_PER_GC_BLOCK): 16 bytes on a 32-bit board, 32 on the
# 64-bit virtual board.
BLOCK = 4 * (8 if sys.maxsize > 0xFFFFFFFF else 4)


def start():
    ws2.WSAStartup(0x0202)


def alloc():
    # Bytes allocated so far (MicroPython's count; 0 on CPython).
    return gc.mem_alloc() if MPY else 0


def tcp(env):
    # A TCP socket connected to the host's echo peer.
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(s, (env.host_ip, env.tcp_echo_port))
    return s


def udp(n):
    return [ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP) for _ in range(n)]


def listener():
    # Port 0: the provider picks a free port (getsockname tells it), so runs in parallel never collide.
    ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.bind(ls, ("127.0.0.1", 0))
    ws2.listen(ls, 2)
    return ls, ws2.getsockname(ls)[1]


def pair():
    # A connected TCP pair on the board's own loopback: (listener, client, accepted, port).
    ls, port = listener()
    c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(c, ("127.0.0.1", port))
    a, _ = ws2.accept(ls)
    return ls, c, a, port


def threads(env):
    # The port's _thread module, or the test skips.
    try:
        import _thread
    except ImportError:
        env.skip("no _thread on this port")
    return _thread


def cancel_when_blocked(thread_id, outcome, tries):
    # From another thread: cancel thread_id's blocking call once it is in one (a try every 50 ms);
    # appends "cancelled" or "never blocked" to outcome and returns whether it cancelled.
    for _ in range(tries):
        time.sleep(0.05)
        try:
            ws2.WSACancelBlockingCall(thread_id)
            outcome.append("cancelled")
            return True
        except ws2.WSAError:
            pass  # not blocked yet
    outcome.append("never blocked")
    return False
