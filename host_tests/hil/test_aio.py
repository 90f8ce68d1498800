# ws2.aio: an asyncio echo server on the board serving two host clients at once.
# MIT licence; part of ws2 for MicroPython.
import socket
import time

import pytest

SERVER = """
import asyncio, ws2
from ws2 import aio
ws2.WSAStartup(0x0202)
ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
ws2.setsockopt(ls, ws2.SOL_SOCKET, ws2.SO_REUSEADDR, 1)
ws2.bind(ls, ("0.0.0.0", %(port)d))
ws2.listen(ls, 4)
served = []

async def client(c):
    while True:
        d = await aio.recv(c, 256)
        if not d:
            break
        await aio.send(c, d)
    ws2.closesocket(c)
    served.append(1)

async def main():
    tasks = []
    print("READY")
    for _ in range(2):
        c, a = await aio.accept(ls)
        tasks.append(asyncio.create_task(client(c)))
    for t in tasks:
        await t

asyncio.run(main())
print("SERVED", len(served))
ws2.closesocket(ls)
ws2.WSACleanup()
"""


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_asyncio_echo_server_two_clients(device):
    if device.virtual is None:
        pytest.skip("the host must reach the board's address; run on the virtual board")
    port = _free_port()
    t = device.t
    t.exec_raw_no_follow(SERVER % {"port": port})
    assert t.read_until(1, b"READY", timeout=15).endswith(b"READY")
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        # both connections are open and served in turn: each echo proves the
        # server is not stuck on the other client
        for i in range(20):
            a.sendall(b"a%02d" % i)
            b.sendall(b"b%02d" % i)
            assert a.recv(16) == b"a%02d" % i
            assert b.recv(16) == b"b%02d" % i
    finally:
        a.close()
        b.close()
    out, err = t.follow(20)
    assert not err, err.decode()
    assert b"SERVED 2" in out


def test_aio_on_cpython(ws2_clean, tcp_echo):
    import asyncio

    import ws2
    from ws2 import aio

    async def main():
        ws2.WSAStartup(0x0202)
        try:
            s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
            await aio.connect(s, ("127.0.0.1", tcp_echo.port))
            await aio.send(s, b"hello aio")
            got = b""
            while len(got) < 9:
                got += await aio.recv(s, 64)
            ws2.closesocket(s)
            return got
        finally:
            ws2.WSACleanup()

    assert asyncio.run(main()) == b"hello aio"
