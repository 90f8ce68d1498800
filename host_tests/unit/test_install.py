# ws2/install on CPython: the transport WSC* functions' refusals, layers and chains, update, provider order,
# a failed flash write, and provider paths. MIT licence; part of ws2 for MicroPython.
import pytest

import ws2
from ws2 import catalog, instl, store

from host_tests.unit.fakes import FIXED, PID, proto_info

WSPM_ENTRIES = [e for e in FIXED[0] if e[5] == "{AAFC3764-763B-427B-B15B-97A6E5C983CE}"]


@pytest.fixture(autouse=True)
def clean(ws2_clean):
    yield


def _base():
    # Install tests start from wspm's two IPv4 entries with ids from 1005 on,
    # whatever the board's default catalog grows into.
    catalog.commit(list(WSPM_ENTRIES), {instl.WSPM_ID: instl.WSPM_PATH}, 1005)


@pytest.mark.parametrize("args,needle", [
    ((PID, "no_such_module_xyz", [proto_info()]), "cannot be imported"),
    ((PID, "ws2.errors", [proto_info()]), "no WSPStartup"),
    ((PID, "", [proto_info()]), "module path"),
    ((PID, None, [proto_info()]), "module path"),
    (("not-a-guid", "providers.wspm", [proto_info()]), "GUID"),
    (("{AAFC3764-763B-427B-B15B-97A6E5C983CE}", "providers.wspm", [proto_info()]), "already installed"),
    ((PID, "providers.wspm", []), "non-empty list"),
    ((PID, "providers.wspm", None), "non-empty list"),
    ((PID, "providers.wspm", ["x"]), "WSAProtocolInfo objects"),
    ((PID, "providers.wspm", [proto_info(protocol_name="")]), "no protocol_name"),
    ((PID, "providers.wspm", [proto_info(protocol_name=5)]), "protocol_name"),
    ((PID, "providers.wspm", [proto_info(address_family="2")]), "address_family"),
    ((PID, "providers.wspm", [proto_info(protocol_max_offset=-1)]), "max_offset"),
    ((PID, "providers.wspm", [proto_info(protocol_chain=(0, 1002))]), "exactly one layered entry"),
    ((PID, "providers.wspm", [proto_info(protocol_chain=(1001, 1002))]), "must start at a layered entry"),
    ((PID, "providers.wspm", [proto_info(protocol_chain=()), proto_info(protocol_chain=(0, 4242))]), "not installed"),
    ((PID, "providers.wspm", [proto_info(protocol_chain=()), proto_info(protocol_chain=(0, 1005))]), "must end at a base"),
])
def test_install_refusals(args, needle):
    _base()
    store.remove("catalog")
    before = (list(catalog.entries), dict(catalog.paths), catalog.next_id)
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCInstallProvider(*args)
    assert e.value.errno == ws2.WSAEINVAL and needle in str(e.value), str(e.value)
    assert ws2.WSAGetLastError() == ws2.WSAEINVAL
    assert (catalog.entries, catalog.paths, catalog.next_id) == before
    assert not store.exists("catalog")


def test_layer_and_chains_in_one_call_then_deinstall_order():
    _base()
    lsp = "{22222222-2222-3333-4444-555555555555}"
    ids = ws2.WSCInstallProvider(lsp, "providers.wspm", [proto_info(protocol_chain=(), protocol_name="layer"),
                                                         proto_info(protocol_chain=(0, 1002), protocol_name="chain")])
    assert ids == [1005, 1006]
    assert catalog.by_id(1006)[catalog.I_CHAIN] == (1005, 1002)
    assert catalog.by_id(1005)[catalog.I_CHAIN] == ()
    # the base under a chain cannot go first
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCDeinstallProvider(instl.WSPM_ID)
    assert e.value.errno == ws2.WSAEINVAL and "chains through" in str(e.value)
    # a separate chain install naming the layer by its id, Windows style
    pid3 = "{33333333-2222-3333-4444-555555555555}"
    assert ws2.WSCInstallProvider(pid3, "providers.wspm", [proto_info(protocol_chain=(1005, 1001))]) == [1007]
    assert catalog.by_id(1007)[catalog.I_CHAIN] == (1005, 1001)
    ws2.WSCDeinstallProvider(pid3)
    ws2.WSCDeinstallProvider(lsp)
    assert [e[catalog.I_CATALOG_ID] for e in catalog.entries] == [1001, 1002]


def test_deinstalling_the_last_base_provider_is_refused():
    _base()
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCDeinstallProvider(instl.WSPM_ID)
    assert "without networking" in str(e.value)
    assert len(catalog.entries) == 2


def test_update_keeps_ids_and_positions():
    _base()
    ws2.WSCInstallProvider(PID, "providers.wspm", [proto_info(protocol_name="a"), proto_info(protocol_name="b")])
    order = [1006, 1001, 1002, 1005]
    ws2.WSCWriteProviderOrder(order)
    ws2.WSCUpdateProvider(PID.lower(), "providers.wspm", [proto_info(protocol_name="A"), proto_info(protocol_name="B"),
                                                          proto_info(protocol_name="C")])
    assert [e[catalog.I_CATALOG_ID] for e in catalog.entries] == order + [1007]
    # the k-th info replaces the k-th installed entry, wherever the order put it
    assert [e[catalog.I_NAME] for e in catalog.entries if e[catalog.I_PROVIDER_ID] == PID] == ["B", "A", "C"]
    assert catalog.by_id(1005)[catalog.I_NAME] == "A" and catalog.by_id(1006)[catalog.I_NAME] == "B"
    assert catalog.next_id == 1008
    ws2.WSCUpdateProvider(PID, "providers.wspm", [proto_info(protocol_name="only")])
    assert [e[catalog.I_CATALOG_ID] for e in catalog.entries] == [1001, 1002, 1005]
    assert catalog.by_id(1005)[catalog.I_CHAIN] == (1005,)


@pytest.mark.parametrize("order", [None, "1001", 1001, [1001], [1001, 1001], [1001, 9999], [1001, 1002, 1005],
                                   [1001.0, 1002], [True, 1002], [None, 1002]])
def test_write_provider_order_refusals(order):
    _base()
    before = list(catalog.entries)
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCWriteProviderOrder(order)
    assert e.value.errno == ws2.WSAEINVAL
    assert catalog.entries == before


def test_a_failed_flash_write_changes_nothing(monkeypatch):
    _base()
    before = list(catalog.entries)

    def full(name, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save", full)
    with pytest.raises(ws2.WSAError):
        ws2.WSCWriteProviderOrder([1002, 1001])
    assert catalog.entries == before


def test_get_provider_path():
    assert ws2.WSCGetProviderPath(instl.WSPM_ID.lower()) == "providers.wspm"
    for bad in (PID, None, 5, "{x}"):
        with pytest.raises(ws2.WSAError) as e:
            ws2.WSCGetProviderPath(bad)
        assert e.value.errno == ws2.WSAEINVAL
