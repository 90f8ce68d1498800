# ws2/aio: asyncio for router sockets: `await ws2.aio.recv(s, n)` and friends.
# MIT licence; part of ws2 for MicroPython.
#
# Each call first tries the operation without blocking (MSG_DONTWAIT, so a
# TLS layer's already-decrypted bytes are found too); on WSAEWOULDBLOCK the
# task waits on the socket's native pollable object, which the owning provider
# gives out through WSPIoctl(SIO_GET_POLLABLE), in asyncio's own poller - no
# thread, no busy loop.
import sys

import ws2
from ws2.errors import WSAError
from ws2.port import const

_WOULDBLOCK = const(10035)
_MSG_DONTWAIT = const(0x40)
_SIO_GET_POLLABLE = const(0x58000001)
_FIONBIO = const(0x8004667E)

if sys.implementation.name == "micropython":
    from asyncio import core

    async def _wait(obj, write):
        # MicroPython's asyncio: enqueue on the IO poller, then yield to the scheduler.
        yield (core._io_queue.queue_write(obj) if write else core._io_queue.queue_read(obj))

else:
    import asyncio

    async def _wait(obj, write):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def ready():
            if not fut.done():
                fut.set_result(None)

        (loop.add_writer if write else loop.add_reader)(obj, ready)
        try:
            await fut
        finally:
            (loop.remove_writer if write else loop.remove_reader)(obj)


def pollable(s):
    """The native object asyncio waits on for socket s."""
    return ws2.WSAIoctl(s, _SIO_GET_POLLABLE, None, 0)


async def recv(s, n):
    """Receive up to n bytes (b'' when the peer closed)."""
    while True:
        try:
            return ws2.recv(s, n, _MSG_DONTWAIT)
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), False)


async def recv_into(s, buf, n=0):
    """Receive into buf; returns the count."""
    while True:
        try:
            return ws2.recv_into(s, buf, n, _MSG_DONTWAIT)
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), False)


async def send(s, data):
    """Send all of data."""
    mv = memoryview(data)
    sent = 0
    while sent < len(mv):
        try:
            sent += ws2.send(s, mv[sent:], _MSG_DONTWAIT)
            continue
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), True)
    return sent


async def accept(s):
    """Accept a connection on a listening socket; returns (socket, address)."""
    ws2.ioctlsocket(s, _FIONBIO, 1)
    while True:
        try:
            c, addr = ws2.accept(s)
            ws2.ioctlsocket(c, _FIONBIO, 0)
            return c, addr
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), False)


async def connect(s, addr):
    """Connect without blocking the event loop."""
    ws2.ioctlsocket(s, _FIONBIO, 1)
    try:
        ws2.connect(s, addr)
    except WSAError as e:
        if e.errno != _WOULDBLOCK:
            raise
        await _wait(pollable(s), True)
        err = ws2.getsockopt(s, ws2.SOL_SOCKET, ws2.SO_ERROR)
        if err:
            raise WSAError(err)
    finally:
        ws2.ioctlsocket(s, _FIONBIO, 0)


async def recvfrom(s, n):
    """Receive a datagram; returns (data, address)."""
    while True:
        try:
            return ws2.recvfrom(s, n, _MSG_DONTWAIT)
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), False)


async def sendto(s, data, addr):
    """Send a datagram to addr."""
    while True:
        try:
            return ws2.sendto(s, data, _MSG_DONTWAIT, addr)
        except WSAError as e:
            if e.errno != _WOULDBLOCK:
                raise
        await _wait(pollable(s), True)
