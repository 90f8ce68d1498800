# ws2/catalog, ws2/install, ws2/provider on CPython: the file codec byte by byte and with hostile
# payloads, fallbacks, matching and enumeration rules, WSC* refusals, provider loading and release.
# MIT licence; part of ws2 for MicroPython.
import json
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ws2
from ws2 import catalog, defcatalog, provider, store
from ws2.protocol_info import WSAProtocolInfo

PID = "{11111111-2222-3333-4444-555555555555}"
# A fixed catalog (not the board default, which grows as providers are added), and its bytes.
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
GOLDEN = (
    b'{"format":1,"next_id":1005,"paths":{"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}":"providers.x",'
    b'"{AAFC3764-763B-427B-B15B-97A6E5C983CE}":"providers.wspm"},"entries":['
    b'[38,0,0,0,8,"{AAFC3764-763B-427B-B15B-97A6E5C983CE}",1001,[1001],2,2,16,16,1,6,0,0,0,0,0,"MicroPython Tcpip [TCP/IP]"],'
    b'[1545,0,0,0,8,"{AAFC3764-763B-427B-B15B-97A6E5C983CE}",1002,[1002],2,2,16,16,2,17,0,0,0,65467,0,"MicroPython Tcpip [UDP/IP]"],'
    b'[38,0,0,0,4,"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}",1003,[],2,2,16,16,1,6,0,0,0,0,0,"layer"],'
    b'[38,0,0,0,8,"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}",1004,[1003,1001],2,2,16,16,1,6,0,0,1,0,0,"chain"]]}'
)
WSPM_ENTRIES = [e for e in FIXED[0] if e[5] == "{AAFC3764-763B-427B-B15B-97A6E5C983CE}"]


def E(cid, af, typ, proto, flags=0x08, off=0, chain=None, pid=PID, name="test"):
    """A catalog tuple."""
    return WSAProtocolInfo(catalog_entry_id=cid, address_family=af, socket_type=typ, protocol=proto,
                           provider_flags=flags, protocol_max_offset=off, provider_id=pid,
                           protocol_chain=(cid,) if chain is None else chain, protocol_name=name).to_tuple()


@pytest.fixture(autouse=True)
def clean(ws2_clean):
    yield


def _base():
    # Install tests start from wspm's two IPv4 entries with ids from 1005 on,
    # whatever the board's default catalog grows into.
    catalog.commit(list(WSPM_ENTRIES), {defcatalog.WSPM_ID: defcatalog.WSPM_PATH}, 1005)


# -- codec -------------------------------------------------------------------------------------

def test_codec_golden_bytes():
    assert catalog.encode(*FIXED) == GOLDEN
    assert catalog.decode(GOLDEN) == FIXED


def test_default_catalog_roundtrips():
    d = defcatalog.default_catalog()
    assert catalog.decode(catalog.encode(*d)) == d
    assert catalog.has_base(d[0])


def test_codec_escapes_and_roundtrips_awkward_names():
    e = [E(1001, 2, 1, 6, name='caf\u00e9 "q" \\ \x01\n\u4e2d'), E(1002, 23, 2, 17, chain=(), name="layer")]
    payload = catalog.encode(e, {PID: "pkg.mod"}, 1003)
    assert b'"caf\xc3\xa9 \\"q\\" \\\\ \\u0001\\u000a\xe4\xb8\xad"' in payload
    assert catalog.decode(payload) == (e, {PID: "pkg.mod"}, 1003)
    assert json.loads(payload)["entries"][1][7] == []  # a layered entry's empty chain


def test_codec_paths_are_sorted_so_the_bytes_do_not_depend_on_dict_order():
    p1 = {"{B}": "b", "{A}": "a"}
    p2 = {"{A}": "a", "{B}": "b"}
    assert catalog.encode([], p1, 1001) == catalog.encode([], p2, 1001) == (
        b'{"format":1,"next_id":1001,"paths":{"{A}":"a","{B}":"b"},"entries":[]}')


def _payload(mutate):
    d = json.loads(GOLDEN)
    mutate(d)
    return json.dumps(d).encode()


HOSTILE = [
    b"", b"null", b"[]", b"{}", b"\xff\xfe", b'{"format":1}', b"[[[[[[[[[[" * 100, b'{"format":2,"next_id":1,"paths":{},"entries":[]}',
    b'{"format":1,"next_id":"1005","paths":{},"entries":[]}', b'{"format":1,"next_id":true,"paths":{},"entries":[]}',
    b'{"format":1,"next_id":1005,"paths":[],"entries":[]}', b'{"format":1,"next_id":1005,"paths":{},"entries":{}}',
    _payload(lambda d: d["entries"].append(d["entries"][0])),  # duplicate catalog id
    _payload(lambda d: d.__setitem__("next_id", 1004)),  # an id at or above next_id
    _payload(lambda d: d["paths"].clear()),  # entries without a provider path
    _payload(lambda d: d["paths"].__setitem__("{AAFC3764-763B-427B-B15B-97A6E5C983CE}", 5)),
    _payload(lambda d: d["paths"].__setitem__("{AAFC3764-763B-427B-B15B-97A6E5C983CE}", "")),
    _payload(lambda d: d["entries"][0].pop()),  # 19 fields
    _payload(lambda d: d["entries"][0].append(0)),  # 21 fields
    _payload(lambda d: d["entries"][0].__setitem__(9, "2")),  # a str af
    _payload(lambda d: d["entries"][0].__setitem__(9, 2.0)),  # a float af
    _payload(lambda d: d["entries"][0].__setitem__(9, True)),  # a bool af
    _payload(lambda d: d["entries"][0].__setitem__(9, 1 << 40)),  # does not fit a DWORD
    _payload(lambda d: d["entries"][0].__setitem__(19, 7)),  # a number as name
    _payload(lambda d: d["entries"][0].__setitem__(19, "x" * 256)),  # longer than WSAPROTOCOL_LEN
    _payload(lambda d: d["entries"][0].__setitem__(7, [1001, 9999])),  # chain to a missing entry
    _payload(lambda d: d["entries"][0].__setitem__(7, list(range(1001, 1009)))),  # chain longer than 7
    _payload(lambda d: d["entries"][0].__setitem__(7, "1001")),
    _payload(lambda d: d["entries"].__setitem__(0, None)),
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_payloads_are_valueerror(payload):
    with pytest.raises(ValueError):
        catalog.decode(payload)


def test_every_truncation_of_the_payload_is_refused():
    for n in range(len(GOLDEN)):
        with pytest.raises(ValueError):
            catalog.decode(GOLDEN[:n])


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300) | st.integers(0, len(GOLDEN) - 1).flatmap(
    lambda i: st.binary(min_size=1, max_size=3).map(lambda b: GOLDEN[:i] + b + GOLDEN[i + len(b):])))
def test_decode_raises_only_valueerror(payload):
    try:
        got = catalog.decode(payload)
    except ValueError:
        return
    entries, paths, next_id = got  # what passes is a usable catalog
    for e in entries:
        assert e[catalog.I_PROVIDER_ID] in paths and e[catalog.I_CATALOG_ID] < next_id


# -- loading: fallbacks, never without networking ----------------------------------------------

def test_missing_file_is_the_default_without_a_warning(capsys):
    catalog.load()
    assert catalog.entries == defcatalog.default_catalog()[0]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("slots,warning", [
    ((b"garbage", b""), "catalog file is corrupt"),
    ((store.frame(1, b"not json"), None), "catalog unreadable"),
    ((store.frame(1, catalog.encode([], {}, 1001)), None), "no base protocol"),
    ((store.frame(1, catalog.encode([E(1001, 2, 1, 6, chain=())], {PID: "x"}, 1002)), None), "no base protocol"),
    ((store.frame(1, GOLDEN)[:-1], store.frame(2, GOLDEN)[:20]), "catalog file is corrupt"),
])
def test_corrupt_or_useless_file_falls_back_with_a_warning(tmp_path, capsys, slots, warning):
    import os

    os.makedirs(str(tmp_path / "ws2root"), exist_ok=True)
    for i, data in enumerate(slots):
        if data is not None:
            (tmp_path / "ws2root" / ("catalog.%d" % i)).write_bytes(data)
    catalog.load()
    assert catalog.entries == defcatalog.default_catalog()[0]
    out = capsys.readouterr().out
    assert "ws2: warning:" in out and warning in out and "using the default catalog" in out


def test_ids_are_stable_across_reloads_and_never_reused():
    catalog.ensure()
    first = catalog.next_id
    ids = ws2.WSCInstallProvider(PID, "providers.wspm", [WSAProtocolInfo(address_family=2, socket_type=2, protocol=17,
                                                                         protocol_chain=(1,), protocol_name="t")])
    assert ids == [first]
    before = list(catalog.entries), dict(catalog.paths), catalog.next_id
    catalog.forget()
    catalog.ensure()  # what a reboot does
    assert (catalog.entries, catalog.paths, catalog.next_id) == before
    ws2.WSCDeinstallProvider(PID)
    catalog.forget()
    catalog.ensure()
    assert ws2.WSCInstallProvider(PID, "providers.wspm", [WSAProtocolInfo(address_family=2, socket_type=2, protocol=17,
                                                                          protocol_chain=(1,), protocol_name="t")]) == [first + 1]


# -- matching and enumeration on hand-made catalogs -----------------------------------------------

def _with(entries):
    catalog.ensure()
    catalog.entries = entries


MATCH_ROWS = [
    # (entries, (af, type, proto), catalog id or WSA error)
    ([E(1, 2, 2, 17, flags=0), E(2, 2, 2, 17)], (2, 2, 0), 2),  # protocol 0 needs PFL_MATCHES_PROTOCOL_ZERO
    ([E(1, 2, 2, 17, flags=0), E(2, 2, 2, 17)], (2, 2, 17), 1),  # an explicit protocol does not
    ([E(1, 2, 2, 17, flags=0)], (2, 2, 0), ws2.WSAEPROTONOSUPPORT),
    ([E(1, 2, 1, 6), E(2, 2, 3, 0, off=255)], (0, 0, 1), 2),  # ranges: protocol .. protocol + max_offset
    ([E(1, 2, 1, 6), E(2, 2, 3, 0, off=255)], (2, 3, 255), 2),
    ([E(1, 2, 1, 6), E(2, 2, 3, 0, off=255)], (2, 3, 256), ws2.WSAEPROTONOSUPPORT),
    ([E(1, 2, 2, 17, flags=0x0C), E(2, 2, 2, 17)], (2, 2, 17), 1),  # hidden entries take part
    ([E(1, 2, 2, 17, chain=()), E(2, 2, 2, 17)], (2, 2, 17), 2),  # a bare layered entry never matches
    ([E(1, 2, 2, 17, chain=()), E(2, 2, 2, 17, chain=(1, 3)), E(3, 2, 2, 17)], (2, 2, 0), 2),  # the chain does
    ([E(1, 2, 1, 6), E(2, 23, 2, 17)], (23, 1, 6), ws2.WSAEAFNOSUPPORT),
    ([E(1, 2, 1, 6), E(2, 23, 2, 17)], (2, 2, 17), ws2.WSAEAFNOSUPPORT),
    ([E(1, 2, 1, 6), E(2, 23, 2, 17)], (23, 2, 6), ws2.WSAEPROTONOSUPPORT),
    ([E(1, 2, 1, 6), E(2, 23, 2, 17)], (2, 5, 0), ws2.WSAESOCKTNOSUPPORT),
    ([E(1, 2, 1, 6), E(2, 23, 2, 17)], (0, 0, 0), ws2.WSAEINVAL),
    ([E(2, 23, 2, 17), E(1, 2, 1, 6)], (0, 0, 6), 1),
    ([], (2, 1, 6), ws2.WSAESOCKTNOSUPPORT),
]


@pytest.mark.parametrize("entries,args,want", MATCH_ROWS)
def test_match_rows(entries, args, want):
    _with(entries)
    if want > 1000:
        with pytest.raises(ws2.WSAError) as e:
            catalog.match(*args)
        assert e.value.errno == want
    else:
        assert catalog.match(*args)[catalog.I_CATALOG_ID] == want


def test_visible_filters_and_hidden():
    _with([E(1, 2, 1, 6), E(2, 2, 2, 17, flags=0x0C), E(3, 2, 3, 0, off=255), E(4, 2, 2, 200, off=10)])
    ids = lambda es: [e[catalog.I_CATALOG_ID] for e in es]  # noqa: E731
    assert ids(catalog.visible()) == [1, 3, 4]
    assert ids(catalog.visible(hidden=True)) == [1, 2, 3, 4]
    assert ids(catalog.visible([6])) == [1, 3]  # the RAW range covers 6 too
    assert ids(catalog.visible([0xDEAD, 6, 0xCAFE, 17, 0xBEEF, 0])) == [1, 3]
    assert ids(catalog.visible([17], hidden=True)) == [2, 3]
    assert ids(catalog.visible([210])) == [3, 4] and ids(catalog.visible([211])) == [3]
    assert ids(catalog.visible([256])) == []
    assert ids(catalog.visible([])) == [] and ids(catalog.visible([0, 6])) == []  # a 0 ends the list


# -- WSC*: refusals leave the catalog as it was -----------------------------------------------

def _info(**kw):
    d = dict(address_family=2, socket_type=2, protocol=17, protocol_chain=(1,), protocol_name="t")
    d.update(kw)
    return WSAProtocolInfo(**d)


@pytest.mark.parametrize("args,needle", [
    ((PID, "no_such_module_xyz", [_info()]), "cannot be imported"),
    ((PID, "ws2.errors", [_info()]), "no WSPStartup"),
    ((PID, "", [_info()]), "module path"),
    ((PID, None, [_info()]), "module path"),
    (("not-a-guid", "providers.wspm", [_info()]), "GUID"),
    (("{AAFC3764-763B-427B-B15B-97A6E5C983CE}", "providers.wspm", [_info()]), "already installed"),
    ((PID, "providers.wspm", []), "non-empty list"),
    ((PID, "providers.wspm", None), "non-empty list"),
    ((PID, "providers.wspm", ["x"]), "WSAProtocolInfo objects"),
    ((PID, "providers.wspm", [_info(protocol_name="")]), "no protocol_name"),
    ((PID, "providers.wspm", [_info(protocol_name=5)]), "protocol_name"),
    ((PID, "providers.wspm", [_info(address_family="2")]), "address_family"),
    ((PID, "providers.wspm", [_info(protocol_max_offset=-1)]), "max_offset"),
    ((PID, "providers.wspm", [_info(protocol_chain=(0, 1002))]), "exactly one layered entry"),
    ((PID, "providers.wspm", [_info(protocol_chain=(1001, 1002))]), "must start at a layered entry"),
    ((PID, "providers.wspm", [_info(protocol_chain=()), _info(protocol_chain=(0, 4242))]), "not installed"),
    ((PID, "providers.wspm", [_info(protocol_chain=()), _info(protocol_chain=(0, 1005))]), "must end at a base"),
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
    ids = ws2.WSCInstallProvider(lsp, "providers.wspm", [_info(protocol_chain=(), protocol_name="layer"),
                                                         _info(protocol_chain=(0, 1002), protocol_name="chain")])
    assert ids == [1005, 1006]
    assert catalog.by_id(1006)[catalog.I_CHAIN] == (1005, 1002)
    assert catalog.by_id(1005)[catalog.I_CHAIN] == ()
    # the base under a chain cannot go first
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCDeinstallProvider(defcatalog.WSPM_ID)
    assert e.value.errno == ws2.WSAEINVAL and "chains through" in str(e.value)
    # a separate chain install naming the layer by its id, Windows style
    pid3 = "{33333333-2222-3333-4444-555555555555}"
    assert ws2.WSCInstallProvider(pid3, "providers.wspm", [_info(protocol_chain=(1005, 1001))]) == [1007]
    assert catalog.by_id(1007)[catalog.I_CHAIN] == (1005, 1001)
    ws2.WSCDeinstallProvider(pid3)
    ws2.WSCDeinstallProvider(lsp)
    assert [e[catalog.I_CATALOG_ID] for e in catalog.entries] == [1001, 1002]


def test_deinstalling_the_last_base_provider_is_refused():
    _base()
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSCDeinstallProvider(defcatalog.WSPM_ID)
    assert "without networking" in str(e.value)
    assert len(catalog.entries) == 2


def test_update_keeps_ids_and_positions():
    _base()
    ws2.WSCInstallProvider(PID, "providers.wspm", [_info(protocol_name="a"), _info(protocol_name="b")])
    order = [1006, 1001, 1002, 1005]
    ws2.WSCWriteProviderOrder(order)
    ws2.WSCUpdateProvider(PID.lower(), "providers.wspm", [_info(protocol_name="A"), _info(protocol_name="B"),
                                                          _info(protocol_name="C")])
    assert [e[catalog.I_CATALOG_ID] for e in catalog.entries] == order + [1007]
    # the k-th info replaces the k-th installed entry, wherever the order put it
    assert [e[catalog.I_NAME] for e in catalog.entries if e[catalog.I_PROVIDER_ID] == PID] == ["B", "A", "C"]
    assert catalog.by_id(1005)[catalog.I_NAME] == "A" and catalog.by_id(1006)[catalog.I_NAME] == "B"
    assert catalog.next_id == 1008
    ws2.WSCUpdateProvider(PID, "providers.wspm", [_info(protocol_name="only")])
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
    assert ws2.WSCGetProviderPath(defcatalog.WSPM_ID.lower()) == "providers.wspm"
    for bad in (PID, None, 5, "{x}"):
        with pytest.raises(ws2.WSAError) as e:
            ws2.WSCGetProviderPath(bad)
        assert e.value.errno == ws2.WSAEINVAL


# -- provider loading: the SPI entry point, checked by the router -----------------------------------

GOOD_PROVIDER = '''
from ws2.errors import WSAError
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
    t[5] = WSPCleanup
    t[6] = WSPCloseSocket
    t[28] = WSPSocket
    return %(RESULT)s
'''


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(name, src):
        (tmp_path / (name + ".py")).write_text(textwrap.dedent(src))
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)


def _socket_via(name, mode_src, modules):
    path = modules(name, GOOD_PROVIDER % {"RESULT": mode_src})
    ws2.WSAStartup(0x0202)
    ids = ws2.WSCInstallProvider(PID, path, [_info(address_family=99)])
    info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == ids[0]][0]
    return path, info


@pytest.mark.parametrize("result,code", [
    ("(0x0202, 0x0202, 'x'), tuple(t[:29])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), tuple(t + [_x])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), tuple(t[:7] + [None] + t[8:])", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0202, 0x0202, 'x'), 'not a table'", ws2.WSAEINVALIDPROCTABLE),
    ("(0x0101, 0x0202, 'x'), tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("(0x0203, 0x0203, 'x'), tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("5, tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("None, tuple(t)", ws2.WSAEINVALIDPROVIDER),
    ("tuple(t)", ws2.WSAEPROVIDERFAILEDINIT),
    ("1 / 0", ws2.WSAEPROVIDERFAILEDINIT),
])
def test_bad_startup_results(modules, result, code):
    path, info = _socket_via("wsp_bad_%d" % abs(hash(result)), result, modules)
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
    path, info = _socket_via("wsp_imp_%d" % abs(hash(src)), "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    modules(path, src)  # the module changed on flash after it was installed
    sys.modules.pop(path, None)
    with pytest.raises(ws2.WSAError) as e:
        ws2.WSASocket(0, 0, 0, info)
    assert e.value.errno == ws2.WSAEPROVIDERFAILEDINIT
    assert path not in sys.modules


def test_refcount_and_release(modules):
    path, info = _socket_via("wsp_refcount", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
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
    path, info = _socket_via("wsp_idle", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
    ws2.closesocket(ws2.WSASocket(0, 0, 0, info))
    m = sys.modules[path]
    assert PID in provider.loaded
    ws2.WSCDeinstallProvider(PID)
    assert PID not in provider.loaded and m.cleanups == 1 and path not in sys.modules
    ws2.WSACleanup()


# -- upcalls: the WPU side of the handle table ------------------------------------------------------

def test_upcall_table_is_complete():
    from ws2 import upcalls

    for name in ("WPUCreateSocketHandle", "WPUCloseSocketHandle", "WPUQuerySocketHandleContext", "WPUModifyIFSHandle",
                 "WPUCreateEvent", "WPUCloseEvent", "WPUSetEvent", "WPUResetEvent", "WPUQueueApc",
                 "WPUCompleteOverlappedRequest", "WPUPostMessage", "WPUQueryBlockingCallback", "WPUGetProviderPath",
                 "WPUFDIsSet", "WPUOpenCurrentThread", "WPUCloseThread"):
        assert callable(getattr(upcalls, name)), name


def test_upcalls_create_query_close(modules):
    from ws2 import handles, upcalls

    path, info = _socket_via("wsp_upcalls", "(0x0202, 0x0202, 'x'), tuple(t)", modules)
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
