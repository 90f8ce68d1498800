# ws2/provider on CPython: loading a provider (bad WSPStartup results, modules that fail at import or have
# no entry), reference counting and release. MIT licence; part of ws2 for MicroPython.
import sys

import pytest

import ws2
from ws2 import provider

from host_tests.unit.fakes import PID, modules, socket_via  # noqa: F401 (modules: a fixture)


@pytest.fixture(autouse=True)
def clean(ws2_clean):
    yield


@pytest.mark.parametrize("result,code", [
    ("(0x0202, 0x0202, 'x'), tuple(t[:29])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), tuple(t + [_x])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), tuple(t[:WSP_CONNECT] + [None] + t[WSP_CONNECT + 1:])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), 'not a table'", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0101, 0x0202, 'x'), tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("(0x0203, 0x0203, 'x'), tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("5, tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("None, tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("tuple(t)", ws2.WSAEPROVIDERFAILEDINIT),
    ("1 / 0", ws2.WSAEPROVIDERFAILEDINIT),
])
def test_bad_startup_results(modules, result, code):
    path, info = socket_via("wsp_bad_%d" % abs(hash(result)), result, modules)
    m = sys.modules.get(path) or __import__(path)
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSASocket(0, 0, 0, info)
    assert e.value.errno == code and ws2.WSAGetLastError() == code
    assert path not in sys.modules and PID not in provider.loaded
    if code == ws2.WSAEINVALIDPROVIDER:
        assert m.cleanups == 1  # a provider that cannot speak 2.2 is cleaned up at once
    # the router still works for wspm
    s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
    ws2.closesocket(s)


@pytest.mark.parametrize("src", ["raise RuntimeError('import fails')", "import no_such_dependency_xyz", "x = (",
                                 "WSPStartup = 5"])
def test_modules_that_fail_at_import_or_have_no_entry(modules, src):
    path, info = socket_via("wsp_imp_%d" % abs(hash(src)), "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    modules(path, src)  # the module changed on flash after it was installed
    sys.modules.pop(path, None)
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSASocket(0, 0, 0, info)
    assert e.value.errno == ws2.WSAEPROVIDERFAILEDINIT
    assert path not in sys.modules


def test_refcount_and_release(modules):
    path, info = socket_via("wsp_refcount", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    ws2.WSAStartup(0x0202)  # a second user
    s1 = ws2.WSASocket(0, 0, 0, info)
    s2 = ws2.WSASocket(0, 0, 0, info)
    m = sys.modules[path]
    assert m.starts == 1 and provider.loaded[PID].sockets == 2  # one WSPStartup per provider
    ws2.closesocket(s1)
    ws2.closesocket(s2)
    assert PID in provider.loaded and m.starts == 1  # no socket, but ws2 is still started
    ws2.WSACleanup()
    assert PID in provider.loaded  # one user left
    s3 = ws2.WSASocket(0, 0, 0, info)
    ws2.WSACleanup()  # the last: closes s3 and releases the provider
    assert m.starts == 0 and m.cleanups == 1
    assert path not in sys.modules and PID not in provider.loaded
    ws2.WSAStartup(0x0202)
    with pytest.raises(ws2.WSAError) as e:
        ws2.closesocket(s3)
    assert e.value.errno == ws2.WSAENOTSOCK
    ws2.WSACleanup()


def test_update_and_deinstall_release_an_idle_provider(modules):
    path, info = socket_via("wsp_idle", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    ws2.closesocket(ws2.WSASocket(0, 0, 0, info))
    m = sys.modules[path]
    assert PID in provider.loaded
    ws2.WSCDeinstallProvider(PID)
    assert PID not in provider.loaded and m.cleanups == 1 and path not in sys.modules
    ws2.WSACleanup()
