# host_tests/device/devhelp: what device test modules share; runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
#
# The harness copies it to the board's /dtest beside every device test module and
# puts host_tests/device on CPython's path, so a test says `import devhelp` (or
# `from devhelp import err`) on both.
import sys

import ws2
from ws2.port import sleep_ms, ticks_diff, ticks_ms  # noqa: F401 (for the tests)

JUNK = 12345  # set as the last error before a call that must overwrite it
TIMEO = 3000  # ms: no test waits forever on a socket
MP = sys.implementation.name == "micropython"


def err(code, f, *args):
    """Assert f(*args) fails with WSA error code and leaves it as the last error; return the error."""
    ws2.WSASetLastError(JUNK)
    try:
        f(*args)
    except ws2.WSAError as e:
        assert e.errno == code, "expected %d, got %r" % (code, e)
        assert ws2.WSAGetLastError() == code, (code, ws2.WSAGetLastError())
        return e
    raise AssertionError("expected WSA error %d from %r" % (code, args))


def raises(code, f, *args):
    """Assert f(*args) raises WSA error code (router internals leave the last error to the API edge)."""
    try:
        f(*args)
    except ws2.WSAError as e:
        assert e.errno == code, "expected %d, got %r" % (code, e)
        return e
    raise AssertionError("expected WSA error %d from %r" % (code, args))


def pair():
    """A connected loopback TCP pair: (listener, client, accepted), both ends with a receive timeout."""
    l = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.bind(l, ("127.0.0.1", 0))
    ws2.listen(l, 2)
    c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    ws2.connect(c, ws2.getsockname(l))
    s, _ = ws2.accept(l)
    for h in (c, s):
        ws2.setsockopt(h, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, TIMEO)
    return l, c, s


def stop():
    """Call WSACleanup until the router is stopped."""
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            return


# A provider that misbehaves on purpose (bad_providers.py, uploaded by the modules
# that name it in UPLOAD): its import name, the same on CPython and on the board.
BAD = "bad_providers"
PID_A = "{0BAD0000-0000-4000-8000-00000000000A}"
PID_B = "{0BAD0000-0000-4000-8000-00000000000B}"


def restore():
    """Stop the router and go back to the default catalog and settings (the board's flash outlives a test)."""
    stop()
    from ws2 import catalog, settings

    catalog.reset()
    settings.reset()


def bad_info(mode=0, af=2, typ=2, proto=17, flags=0x08, chain=(1,), name="bad_providers test", off=0):
    """A WSAProtocolInfo for a bad_providers entry; provider_reserved carries the misbehaviour (mode)."""
    return ws2.WSAProtocolInfo(address_family=af, socket_type=typ, protocol=proto, provider_flags=flags,
                               protocol_chain=chain, protocol_name=name, provider_reserved=mode,
                               protocol_max_offset=off)


def fake_entry(mode=0, pid="{0BAD0000-0000-4000-8000-0000000000F0}"):
    """Install a bad_providers entry of family 99 in this mode; return its WSAProtocolInfo from the catalog."""
    info = bad_info(mode, af=99, name="bad_providers mode %d" % mode)
    cid = ws2.WSCInstallProvider(pid, BAD, [info])[0]
    return [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == cid][0]


def entry_ids(infos):
    """The catalog entry ids of these WSAProtocolInfo."""
    return [p.catalog_entry_id for p in infos]


def open_sockets():
    """How many handles the router has open."""
    from ws2 import handles

    return len(handles.open_handles())


def catalog_entry(cid):
    """The WSAProtocolInfo of catalog entry cid (AssertionError when there is none)."""
    for p in ws2.WSCEnumProtocols():
        if p.catalog_entry_id == cid:
            return p
    raise AssertionError("no catalog entry %d" % cid)


def put_first(cid):
    """Move catalog entry cid to the front of the provider order."""
    ids = entry_ids(ws2.WSCEnumProtocols())
    ids.remove(cid)
    ws2.WSCWriteProviderOrder([cid] + ids)


def recv_exact(s, n):
    """Receive exactly n bytes from socket s (AssertionError if the peer closes first)."""
    got = b""
    while len(got) < n:
        d = ws2.recv(s, n - len(got))
        assert d, "peer closed early"
        got += d
    return got


def stream_echo(s, size, chunk=1024):
    """Stream a 256-periodic pattern through an echo peer and check it as it comes back (no big buffers)."""
    pattern = bytearray(256 + chunk)
    for i in range(len(pattern)):
        pattern[i] = (i * 7 + 3) & 0xFF
    pat = memoryview(pattern)
    buf = bytearray(chunk)
    sent = received = 0
    while received < size:
        if sent < size:
            n = min(chunk, size - sent)
            sent += ws2.send(s, pat[sent & 255 : (sent & 255) + n])
        while received < sent:
            n = ws2.recv_into(s, buf, min(chunk, sent - received))
            assert n > 0, "peer closed early"
            off = received & 255
            assert buf[:n] == pattern[off : off + n], "corrupt data at offset %d" % received
            received += n
    assert received == size
