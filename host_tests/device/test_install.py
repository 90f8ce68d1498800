# Device tests: ws2/install, the transport WSC* functions: install, update, reorder and deinstall.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import BAD, PID_A, PID_B, bad_info, entry_ids, err, restore

UPLOAD = ("bad_providers",)
TIMEOUT = 90


def test_install_update_reorder_deinstall():
    from ws2 import catalog

    restore()
    try:
        base = ws2.WSCEnumProtocols()
        first = catalog.next_id
        ids = ws2.WSCInstallProvider(PID_A.lower(), BAD, [bad_info(name="a"), bad_info(name="b")])
        assert ids == [first, first + 1]
        assert ws2.WSCGetProviderPath(PID_A) == BAD
        got = ws2.WSCEnumProtocols()
        assert entry_ids(got) == entry_ids(base) + ids
        assert got[-1].provider_id == PID_A and got[-1].protocol_chain == (ids[1],) and got[-1].protocol_name == "b"
        # the catalog on flash: what a reboot reads back, ids unchanged
        catalog.forget()
        assert entry_ids(ws2.WSCEnumProtocols()) == entry_ids(got)
        # refusals leave it as it was
        for args, code in (((PID_A, BAD, [bad_info()]), ws2.WSAEINVAL),
                           ((PID_B, "no_such_provider_module", [bad_info()]), ws2.WSAEINVAL),
                           ((PID_B, "ws2.errors", [bad_info()]), ws2.WSAEINVAL),
                           (("{nope}", BAD, [bad_info()]), ws2.WSAEINVAL),
                           ((PID_B, BAD, []), ws2.WSAEINVAL),
                           ((PID_B, BAD, [bad_info(name="")]), ws2.WSAEINVAL),
                           ((PID_B, BAD, [bad_info(af="2")]), ws2.WSAEINVAL)):
            e = err(code, ws2.WSCInstallProvider, args[0], args[1], args[2])
            assert len(str(e)) > 20, str(e)  # a clear message, not just a number
            assert entry_ids(ws2.WSCEnumProtocols()) == entry_ids(got)
        # reorder: matching and enumeration follow
        order = [ids[1]] + [i for i in entry_ids(got) if i != ids[1]]
        ws2.WSCWriteProviderOrder(order)
        assert entry_ids(ws2.WSCEnumProtocols()) == order
        assert catalog.match(0, 0, 17)[catalog.I_CATALOG_ID] == ids[1]
        for bad in (order[:-1], order + [order[0]], order[:-1] + [order[0]], order[:-1] + [4242], None):
            err(ws2.WSAEINVAL, ws2.WSCWriteProviderOrder, bad)
        assert entry_ids(ws2.WSCEnumProtocols()) == order
        # update in place: ids and positions kept, one more entry at the end
        ws2.WSCUpdateProvider(PID_A, BAD, [bad_info(name="A"), bad_info(name="B"), bad_info(name="C")])
        now = ws2.WSCEnumProtocols()
        assert entry_ids(now) == order + [first + 2]
        assert [p.protocol_name for p in now if p.provider_id == PID_A] == ["B", "A", "C"]
        # deinstall: gone, the path too, and the ids are never handed out again
        ws2.WSCDeinstallProvider(PID_A)
        assert entry_ids(ws2.WSCEnumProtocols()) == entry_ids(base)
        err(ws2.WSAEINVAL, ws2.WSCGetProviderPath, PID_A)
        err(ws2.WSAEINVAL, ws2.WSCDeinstallProvider, PID_A)
        assert ws2.WSCInstallProvider(PID_A, BAD, [bad_info()]) == [first + 3]
    finally:
        restore()
    assert entry_ids(ws2.WSCEnumProtocols()) == entry_ids(base)
