# Device tests of ws2/sockio: scatter / gather with WSASend, WSARecv, WSASendTo and WSARecvFrom.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.

import ws2

import io_helpers as ioh  # uploaded beside this module on the board (UPLOAD)

TIMEOUT = 120
UPLOAD = ("io_helpers",)

# The emulated RP2040 (docs/emulator.md) runs one core and has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_scatter_gather_tcp': 'no network on the emulated board',
    'test_scatter_gather_udp': 'no network on the emulated board',
}}


def _gather_scatter_tcp(env, nbufs):
    s = ioh.tcp(env)
    parts = [bytes([65 + i % 26]) * (i + 1) for i in range(nbufs)]
    total = sum(len(p) for p in parts)
    assert ws2.WSASend(s, parts) == total
    outs = [bytearray(i + 1) for i in range(nbufs)]
    got = 0
    while got < total:
        r, _, _ = ws2.select([s], [], [], 3)
        assert r, "no echo"
        # receive the rest into the remaining buffer space
        views = []
        skip = got
        for b in outs:
            if skip >= len(b):
                skip -= len(b)
                continue
            views.append(memoryview(b)[skip:])
            skip = 0
        n, _ = ws2.WSARecv(s, views)
        got += n
    assert [bytes(b) for b in outs] == parts
    ws2.closesocket(s)


def test_scatter_gather_tcp(env):
    ioh.start()
    try:
        for n in (1, 3, 16):
            _gather_scatter_tcp(env, n)
    finally:
        ioh.stop()


def test_scatter_gather_udp(env):
    ioh.start()
    try:
        u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
        peer = (env.host_ip, env.udp_echo_port)
        for n in (1, 3, 16):
            parts = [bytes([97 + i]) * 3 for i in range(n)]
            assert ws2.WSASendTo(u, parts, peer) == 3 * n  # gathered into ONE datagram
            outs = [bytearray(2) for _ in range(2 * n)]  # 4n bytes of room for a 3n-byte datagram
            r, _, _ = ws2.select([u], [], [], 3)
            assert r
            cnt, fl, addr = ws2.WSARecvFrom(u, outs)
            assert cnt == 3 * n and addr[1] == env.udp_echo_port
            assert b"".join(bytes(b) for b in outs)[:cnt] == b"".join(parts)
        ws2.closesocket(u)
    finally:
        ioh.stop()
