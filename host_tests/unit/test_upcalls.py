# ws2/upcalls on CPython: the upcall table a provider gets, and the handle upcalls (create, query, close).
# MIT licence; part of ws2 for MicroPython.
import pytest

import ws2
from ws2 import provider

from host_tests.unit.fakes import PID, modules, socket_via  # noqa: F401 (modules: a fixture)


@pytest.fixture(autouse=True)
def clean(ws2_clean):
    yield


def test_upcall_table_is_complete():
    from ws2 import upcalls

    for name in ("WPUCreateSocketHandle", "WPUCloseSocketHandle", "WPUQuerySocketHandleContext", "WPUModifyIFSHandle",
                 "WPUCreateEvent", "WPUCloseEvent", "WPUSetEvent", "WPUResetEvent", "WPUQueueApc",
                 "WPUCompleteOverlappedRequest", "WPUPostMessage", "WPUQueryBlockingCallback", "WPUGetProviderPath",
                 "WPUFDIsSet", "WPUOpenCurrentThread", "WPUCloseThread"):
        assert callable(getattr(upcalls, name)), name


def test_upcalls_create_query_close(modules):
    from ws2 import handles, upcalls

    path, info = socket_via("wsp_upcalls", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    ctx = object()
    h = upcalls.WPUCreateSocketHandle(info.catalog_entry_id, ctx)
    assert upcalls.WPUQuerySocketHandleContext(h) is ctx
    assert handles.flags[handles.slot(h)] & handles.F_LAYERED
    assert provider.loaded[PID].sockets == 1
    assert upcalls.WPUCloseSocketHandle(h) == 0
    assert provider.loaded[PID].sockets == 0
    for fn in (upcalls.WPUQuerySocketHandleContext, upcalls.WPUCloseSocketHandle):
        with pytest.raises(ws2.WSAError) as e:
            fn(h)
        assert e.value.errno == ws2.WSAENOTSOCK
    with pytest.raises(ws2.WSAError) as e:
        upcalls.WPUCreateSocketHandle(4242, ctx)
    assert e.value.errno == ws2.WSAEINVAL
    with pytest.raises(ws2.WSAError) as e:
        upcalls.WPUModifyIFSHandle(info.catalog_entry_id, None)
    assert e.value.errno == ws2.WSAEINVAL
    assert upcalls.WPUGetProviderPath(PID) == path
    ws2.WSACleanup()
