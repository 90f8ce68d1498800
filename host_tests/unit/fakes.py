# host_tests/unit/fakes: what the router's CPython tests share: a fixed catalog, protocol infos, and a
# provider module written to a temporary folder, its WSPStartup result chosen by the test.
# MIT licence; part of ws2 for MicroPython.
import sys
import textwrap

import pytest

import ws2
from ws2.protocol_info import WSAProtocolInfo

PID = "{11111111-2222-3333-4444-555555555555}"

# A fixed catalog (not the board default, which grows as providers are added); test_catalog has its bytes.
FIXED = ([
    (38, 0, 0, 0, 8, "{AAFC3764-763B-427B-B15B-97A6E5C983CE}", 1001, (1001,), 2, 2, 16, 16, 1, 6, 0, 0, 0, 0, 0,
     "MicroPython Tcpip [TCP/IP]"),
    (1545, 0, 0, 0, 8, "{AAFC3764-763B-427B-B15B-97A6E5C983CE}", 1002, (1002,), 2, 2, 16, 16, 2, 17, 0, 0, 0, 65467, 0,
     "MicroPython Tcpip [UDP/IP]"),
    (38, 0, 0, 0, 4, "{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}", 1003, (), 2, 2, 16, 16, 1, 6, 0, 0, 0, 0, 0, "layer"),
    (38, 0, 0, 0, 8, "{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}", 1004, (1003, 1001), 2, 2, 16, 16, 1, 6, 0, 0, 1, 0, 0,
     "chain"),
], {"{AAFC3764-763B-427B-B15B-97A6E5C983CE}": "providers.wspm", "{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}": "providers.x"},
    1005)


def proto_info(**kw):
    """A WSAProtocolInfo of UDP over IPv4 unless kw says otherwise."""
    d = dict(address_family=2, socket_type=2, protocol=17, protocol_chain=(1,), protocol_name="t")
    d.update(kw)
    return WSAProtocolInfo(**d)


GOOD_PROVIDER = '''
from ws2.errors import WSAError
from ws2.spiconst import WSP_CLEANUP, WSP_CLOSESOCKET, WSP_CONNECT, WSP_SOCKET
starts = 0
cleanups = 0
def _x(*a):
    raise WSAError(10045)
def WSPCleanup():
    global starts, cleanups
    starts -= 1
    cleanups += 1
def WSPSocket(af, typ, proto, info, group, flags):
    return _up.WPUCreateSocketHandle(info.catalog_entry_id, object())
def WSPCloseSocket(c):
    return 0
def WSPStartup(version, info, upcalls):
    global starts, _up
    _up = upcalls
    starts += 1
    t = [_x] * 30
    t[WSP_CLEANUP] = WSPCleanup
    t[WSP_CLOSESOCKET] = WSPCloseSocket
    t[WSP_SOCKET] = WSPSocket
    return %(RESULT)s
'''


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Write a provider module: modules(name, source) -> its import name (dropped from sys.modules after)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(name, src):
        (tmp_path / (name + ".py")).write_text(textwrap.dedent(src))
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)


def socket_via(name, mode_src, modules):
    """Start ws2 with a fake provider whose WSPStartup returns mode_src; return its path and protocol info."""
    path = modules(name, GOOD_PROVIDER % {"RESULT": mode_src})
    ws2.WSAStartup(0x0202)
    ids = ws2.WSCInstallProvider(PID, path, [proto_info(address_family=99)])
    info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == ids[0]][0]
    return path, info
