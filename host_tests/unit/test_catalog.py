# ws2/catalog on CPython: the file codec byte by byte and with hostile payloads, the fallbacks to the
# default, stable ids, and the matching and enumeration rules. MIT licence; part of ws2 for MicroPython.
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ws2
from ws2 import catalog, instl, store
from ws2.protocol_info import WSAProtocolInfo

from host_tests.unit.fakes import FIXED, PID


# The fixed catalog's bytes.
GOLDEN = (
    b'{"format":1,"next_id":1005,"paths":{"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}":"providers.x",'
    b'"{AAFC3764-763B-427B-B15B-97A6E5C983CE}":"providers.wspm"},"entries":['
    b'[38,0,0,0,8,"{AAFC3764-763B-427B-B15B-97A6E5C983CE}",1001,[1001],2,2,16,16,1,6,0,0,0,0,0,"MicroPython Tcpip [TCP/IP]"],'
    b'[1545,0,0,0,8,"{AAFC3764-763B-427B-B15B-97A6E5C983CE}",1002,[1002],2,2,16,16,2,17,0,0,0,65467,0,"MicroPython Tcpip [UDP/IP]"],'
    b'[38,0,0,0,4,"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}",1003,[],2,2,16,16,1,6,0,0,0,0,0,"layer"],'
    b'[38,0,0,0,8,"{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}",1004,[1003,1001],2,2,16,16,1,6,0,0,1,0,0,"chain"]]}'
)


def E(cid, af, typ, proto, flags=0x08, off=0, chain=None, pid=PID, name="test"):
    """A catalog tuple."""
    return WSAProtocolInfo(catalog_entry_id=cid, address_family=af, socket_type=typ, protocol=proto,
                           provider_flags=flags, protocol_max_offset=off, provider_id=pid,
                           protocol_chain=(cid,) if chain is None else chain, protocol_name=name).to_tuple()


@pytest.fixture(autouse=True)
def clean(ws2_clean):
    yield


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


def test_codec_golden_bytes():
    assert catalog.encode(*FIXED) == GOLDEN
    assert catalog.decode(GOLDEN) == FIXED


def test_default_catalog_roundtrips():
    d = instl.default_catalog()
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


def test_missing_file_is_the_default_without_a_warning(capsys):
    catalog.load()
    assert catalog.entries == instl.default_catalog()[0]
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
    assert catalog.entries == instl.default_catalog()[0]
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
