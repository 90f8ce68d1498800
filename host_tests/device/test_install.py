# Device tests: ws2/install, the transport WSC* functions: install, update, reorder and deinstall.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import err, stop

UPLOAD = ("bad_providers",)
TIMEOUT = 90


# The provider module's import path: beside this module on CPython, /dtest on the board.
BAD = (__name__.rsplit(".", 1)[0] + ".bad_providers") if "." in __name__ else "bad_providers"
PID_A = "{0BAD0000-0000-4000-8000-00000000000A}"
PID_B = "{0BAD0000-0000-4000-8000-00000000000B}"


def _restore():
    # The board's flash outlives the test: leave the default catalog behind.
    stop()
    from ws2 import catalog

    catalog.reset()


def _info(mode=0, af=2, typ=2, proto=17, flags=0x08, chain=(1,), name="bad_providers test", off=0):
    return ws2.WSAProtocolInfo(address_family=af, socket_type=typ, protocol=proto, provider_flags=flags,
                               protocol_chain=chain, protocol_name=name, provider_reserved=mode,
                               protocol_max_offset=off)


def _ids(infos):
    return [p.catalog_entry_id for p in infos]


def test_install_update_reorder_deinstall():
    from ws2 import catalog

    _restore()
    try:
        base = ws2.WSCEnumProtocols()
        first = catalog.next_id
        ids = ws2.WSCInstallProvider(PID_A.lower(), BAD, [_info(name="a"), _info(name="b")])
        assert ids == [first, first + 1]
        assert ws2.WSCGetProviderPath(PID_A) == BAD
        got = ws2.WSCEnumProtocols()
        assert _ids(got) == _ids(base) + ids
        assert got[-1].provider_id == PID_A and got[-1].protocol_chain == (ids[1],) and got[-1].protocol_name == "b"
        # the catalog on flash: what a reboot reads back, ids unchanged
        catalog.forget()
        assert _ids(ws2.WSCEnumProtocols()) == _ids(got)
        # refusals leave it as it was
        for args, code in (((PID_A, BAD, [_info()]), ws2.WSAEINVAL),
                           ((PID_B, "no_such_provider_module", [_info()]), ws2.WSAEINVAL),
                           ((PID_B, "ws2.errors", [_info()]), ws2.WSAEINVAL),
                           (("{nope}", BAD, [_info()]), ws2.WSAEINVAL),
                           ((PID_B, BAD, []), ws2.WSAEINVAL),
                           ((PID_B, BAD, [_info(name="")]), ws2.WSAEINVAL),
                           ((PID_B, BAD, [_info(af="2")]), ws2.WSAEINVAL)):
            e = err(code, ws2.WSCInstallProvider, args[0], args[1], args[2])
            assert len(str(e)) > 20, str(e)  # a clear message, not just a number
            assert _ids(ws2.WSCEnumProtocols()) == _ids(got)
        # reorder: matching and enumeration follow
        order = [ids[1]] + [i for i in _ids(got) if i != ids[1]]
        ws2.WSCWriteProviderOrder(order)
        assert _ids(ws2.WSCEnumProtocols()) == order
        assert catalog.match(0, 0, 17)[catalog.I_CATALOG_ID] == ids[1]
        for bad in (order[:-1], order + [order[0]], order[:-1] + [order[0]], order[:-1] + [4242], None):
            err(ws2.WSAEINVAL, ws2.WSCWriteProviderOrder, bad)
        assert _ids(ws2.WSCEnumProtocols()) == order
        # update in place: ids and positions kept, one more entry at the end
        ws2.WSCUpdateProvider(PID_A, BAD, [_info(name="A"), _info(name="B"), _info(name="C")])
        now = ws2.WSCEnumProtocols()
        assert _ids(now) == order + [first + 2]
        assert [p.protocol_name for p in now if p.provider_id == PID_A] == ["B", "A", "C"]
        # deinstall: gone, the path too, and the ids are never handed out again
        ws2.WSCDeinstallProvider(PID_A)
        assert _ids(ws2.WSCEnumProtocols()) == _ids(base)
        err(ws2.WSAEINVAL, ws2.WSCGetProviderPath, PID_A)
        err(ws2.WSAEINVAL, ws2.WSCDeinstallProvider, PID_A)
        assert ws2.WSCInstallProvider(PID_A, BAD, [_info()]) == [first + 3]
    finally:
        _restore()
    assert _ids(ws2.WSCEnumProtocols()) == _ids(base)
