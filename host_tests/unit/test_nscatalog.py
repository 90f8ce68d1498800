# ws2/nscatalog and ws2/nsinstall: the file codec byte by byte, power-safe persistence, WSC* argument checks.
# MIT licence; part of ws2 for MicroPython.
import json

import pytest

from ws2 import nsinstall

NSPM = "{3C8441D3-B4F9-4EA0-8974-F4C349665191}"
OTHER = "{11111111-2222-3333-4444-555555555555}"


@pytest.fixture
def nscat(tmp_path, monkeypatch):
    monkeypatch.setenv("WS2_ROOT", str(tmp_path))
    from ws2 import nscatalog

    nscatalog.forget()
    yield nscatalog
    nscatalog.forget()


def test_default_is_nspm_for_dns(nscat):
    got = nsinstall.WSCEnumNameSpaceProviders()
    assert len(got) == 1
    e = got[0]
    assert (e.provider_id, e.name_space, e.active, e.version) == (NSPM, 12, True, 1)
    assert nscat.entries[0][nscat.I_PATH] == "providers.nspm"


def test_codec_round_trip_and_bytes(nscat):
    entries = nscat.default_entries() + [("Test", "x.y", 77, 2, OTHER, False)]
    payload = nscat.encode(entries)
    assert json.loads(payload) == {"format": 1, "entries": [list(e) for e in entries]}
    assert nscat.decode(payload) == entries


@pytest.mark.parametrize("payload", [
    b"", b"{", b"[]", b'{"format": 2, "entries": []}', b'{"format": 1}', b'{"format": 1, "entries": [[1]]}',
    b'{"format": 1, "entries": [["T", "p", 0, 1, "' + OTHER.encode() + b'", true]]}',
    b'{"format": 1, "entries": [["T", "p", 12, 1, "not-a-guid", true]]}',
    b'{"format": 1, "entries": [["T", "p", 12, 1, "' + OTHER.encode() + b'", 1]]}',
    b'{"format": 1, "entries": [["T", "p", 12, 1, "' + OTHER.encode() + b'", true], ["U", "q", 12, 1, "'
    + OTHER.encode() + b'", true]]}',
])
def test_codec_rejects_corrupt_payloads(nscat, payload):
    with pytest.raises(ValueError):
        nscat.decode(payload)


def test_install_enable_uninstall_persist(nscat):
    assert nsinstall.WSCInstallNameSpace("Test NSP", "tests.nsp", 77, 3, OTHER.lower()) == 0
    nscat.forget()  # what a soft reset does to RAM
    ids = [(e.provider_id, e.active) for e in nsinstall.WSCEnumNameSpaceProviders()]
    assert ids == [(NSPM, True), (OTHER, True)]  # appended, GUID normalised to upper case
    assert nsinstall.WSCEnableNSProvider(OTHER, False) == 0
    nscat.forget()
    assert [e.active for e in nsinstall.WSCEnumNameSpaceProviders()] == [True, False]
    assert [e[nscat.I_PROVIDER_ID] for e in nscat.active(0)] == [NSPM]
    assert nsinstall.WSCUnInstallNameSpace(OTHER) == 0
    nscat.forget()
    assert [e.provider_id for e in nsinstall.WSCEnumNameSpaceProviders()] == [NSPM]


def test_torn_newest_slot_keeps_the_previous_catalog(nscat, tmp_path):
    nsinstall.WSCInstallNameSpace("Test NSP", "tests.nsp", 77, 3, OTHER)
    nsinstall.WSCEnableNSProvider(OTHER, False)  # the newest slot holds the disabled state
    from ws2 import store

    newest = max(tmp_path.glob("nscatalog.*"), key=lambda p: store.unframe(p.read_bytes())[0])
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # power lost half way through the write
    nscat.forget()
    got = nsinstall.WSCEnumNameSpaceProviders()
    assert [(e.provider_id, e.active) for e in got] == [(NSPM, True), (OTHER, True)]


@pytest.mark.parametrize("args,why", [
    (("", "p", 12, 1, OTHER), "empty identifier"),
    (("T", "", 12, 1, OTHER), "empty path"),
    (("T", "a b", 12, 1, OTHER), "path with a space"),
    (("T", "p", 0, 1, OTHER), "NS_ALL"),
    (("T", "p", -1, 1, OTHER), "negative namespace"),
    (("T", "p", 12, "1", OTHER), "version not an int"),
    (("T", "p", 12, 1, "{nope}"), "bad GUID"),
    (("T", "p", 12, 1, NSPM), "already installed"),
])
def test_install_refuses(nscat, args, why):
    from ws2 import WSAError, WSAGetLastError

    with pytest.raises(WSAError) as e:
        nsinstall.WSCInstallNameSpace(*args)
    assert e.value.errno == 10022 and WSAGetLastError() == 10022


def test_unknown_provider_is_einval(nscat):
    from ws2 import WSAError

    for f in (lambda: nsinstall.WSCUnInstallNameSpace(OTHER), lambda: nsinstall.WSCEnableNSProvider(OTHER, True)):
        with pytest.raises(WSAError) as e:
            f()
        assert e.value.errno == 10022


def test_public_names_resolve_from_ws2():
    import ws2

    assert ws2.WSCInstallNameSpace.__module__ == "ws2.nsinstall"
    assert ws2.SVCID_HOSTNAME == "{0002A800-0000-0000-C000-000000000046}"
    assert ws2.WSAQuerySet().name_space == 0 and ws2.RESULT_IS_ALIAS == 1
