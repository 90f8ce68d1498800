# Device tests: namespace providers: installing a second one, NS_ALL order, disable, uninstall, the lookup API.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
#
# The test provider is defined here and registered in sys.modules under its
# catalog path (a board only receives this module, not a second file): the
# router imports a provider by path, and an object already in sys.modules is
# what that import returns, on CPython and MicroPython alike.
import sys

import ws2
from devhelp import raises

ENV = ("dns_server",)

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_second_provider_merges_after_dns_in_order': 'no network on the emulated board',
    'test_disable_and_enable': 'no network on the emulated board',
    'test_uninstall': 'no network on the emulated board',
    'test_broken_provider_does_not_break_the_others': 'no network on the emulated board',
    'test_lookup_api_rules': 'no network on the emulated board',
}}

TEST_ID = "{7E57AB1E-0000-4000-8000-00000000C0DE}"
TEST_PATH = "nsp_test_provider"
NS_TEST = 0x7E57  # a private namespace id: only the test provider serves it
NSPM_ID = "{3C8441D3-B4F9-4EA0-8974-F4C349665191}"
NAMES = {"a.ws2.test": "10.9.9.9", "only.nsptest": "10.1.2.3"}


class FakeNSP:
    """A namespace provider in a few lines: a fixed table, one result per name."""

    def __init__(self):
        self.starts = 0
        self.cleanups = 0
        self.begins = 0
        self.bad_table = False

    def NSPStartup(self, provider_id):
        self.starts += 1
        if self.bad_table:
            return (self.cleanup,) * 4  # 4 routines, not 9
        no = self.unsupported
        return (self.cleanup, self.begin, self.next, self.end, no, no, no, no, no)

    def cleanup(self, provider_id):
        self.cleanups += 1
        return 0

    def begin(self, provider_id, query, class_info, flags):
        self.begins += 1
        addr = NAMES.get((query.service_instance_name or "").lower())
        if addr is None:
            raise ws2.WSAError(ws2.WSAHOST_NOT_FOUND, "not in the test table")
        r = ws2.WSAQuerySet(service_instance_name=query.service_instance_name, name_space=NS_TEST,
                            ns_provider_id=provider_id, csa_buffer=[(("0.0.0.0", 0), (addr, 0), 0, 0)])
        return [r]

    def next(self, handle, flags):
        if not handle:
            raise ws2.WSAError(ws2.WSA_E_NO_MORE)
        return handle.pop()

    def end(self, handle):
        return 0

    def unsupported(self, *a):
        raise ws2.WSAError(ws2.WSAEOPNOTSUPP)


def _start(env):
    ws2.WSAStartup(0x0202)
    ws2.config(dns_servers=[(env.dns_ip, env.dns_port)], dns_timeout_ms=2000, hosts={})
    prov = FakeNSP()
    sys.modules[TEST_PATH] = prov
    return prov


def _stop():
    try:
        ws2.WSCUnInstallNameSpace(TEST_ID)
    except ws2.WSAError:
        pass
    sys.modules.pop(TEST_PATH, None)
    try:
        ws2.config(dns_servers=[], hosts={})
    finally:
        ws2.WSACleanup()


def _addrs(name, ns=ws2.NS_ALL):
    q = ws2.WSAQuerySet(service_instance_name=name, service_class_id=ws2.SVCID_HOSTNAME, name_space=ns)
    h = ws2.WSALookupServiceBegin(q, ws2.LUP_RETURN_ADDR)
    out = []
    try:
        while True:
            try:
                r = ws2.WSALookupServiceNext(h, 0)
            except ws2.WSAError as e:
                assert e.errno == ws2.WSA_E_NO_MORE
                break
            out += [(r.name_space, c[1][0]) for c in r.csa_buffer]
    finally:
        ws2.WSALookupServiceEnd(h)
    return out


def test_default_namespace_catalog(env):
    ws2.WSAStartup(0x0202)
    try:
        got = ws2.WSCEnumNameSpaceProviders()
        assert [(p.provider_id, p.name_space, p.active) for p in got][:1] == [(NSPM_ID, ws2.NS_DNS, True)]
        assert [p.provider_id for p in ws2.WSAEnumNameSpaceProviders()] == [p.provider_id for p in got]
    finally:
        ws2.WSACleanup()


def test_second_provider_merges_after_dns_in_order(env):
    prov = _start(env)
    try:
        assert ws2.WSCInstallNameSpace("Test NSP", TEST_PATH, NS_TEST, 1, TEST_ID) == 0
        ids = [p.provider_id for p in ws2.WSCEnumNameSpaceProviders()]
        assert ids[-1] == TEST_ID and NSPM_ID in ids
        # NS_ALL: every enabled provider, in catalog order: DNS first, then the test one
        assert _addrs("a.ws2.test") == [(ws2.NS_DNS, "192.0.2.1"), (NS_TEST, "10.9.9.9")]
        got = ws2.getaddrinfo("a.ws2.test", 80, ws2.AF_INET, ws2.SOCK_STREAM)
        assert [r[4][0] for r in got] == ["192.0.2.1", "10.9.9.9"], got
        # a name only the test provider knows: DNS says NXDOMAIN, the merge still answers
        assert ws2.getaddrinfo("only.nsptest", 22, ws2.AF_INET, ws2.SOCK_STREAM) == [(2, 1, 6, "", ("10.1.2.3", 22))]
        # a namespace of its own, and a query addressed to one provider
        assert _addrs("a.ws2.test", NS_TEST) == [(NS_TEST, "10.9.9.9")]
        q = ws2.WSAQuerySet(service_instance_name="a.ws2.test", service_class_id=ws2.SVCID_HOSTNAME,
                            ns_provider_id=NSPM_ID)
        h = ws2.WSALookupServiceBegin(q, ws2.LUP_RETURN_ADDR)
        assert ws2.WSALookupServiceNext(h, 0).ns_provider_id == NSPM_ID
        raises(ws2.WSA_E_NO_MORE, ws2.WSALookupServiceNext, h, 0)
        ws2.WSALookupServiceEnd(h)
        assert prov.starts == 1  # loaded once, kept while ws2 is started
    finally:
        _stop()
    assert prov.cleanups == 1  # the last WSACleanup released it


def test_disable_and_enable(env):
    prov = _start(env)
    try:
        ws2.WSCInstallNameSpace("Test NSP", TEST_PATH, NS_TEST, 1, TEST_ID)
        assert _addrs("only.nsptest") == [(NS_TEST, "10.1.2.3")]
        assert ws2.WSCEnableNSProvider(TEST_ID, False) == 0
        assert prov.cleanups == 1  # a loaded provider is released when disabled
        assert [p.active for p in ws2.WSCEnumNameSpaceProviders() if p.provider_id == TEST_ID] == [False]
        n = prov.begins
        raises(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, "only.nsptest", 22)
        raises(ws2.WSASERVICE_NOT_FOUND, _addrs, "only.nsptest", NS_TEST)
        assert prov.begins == n  # not asked while disabled
        assert TEST_PATH not in sys.modules  # released: its module was dropped
        sys.modules[TEST_PATH] = prov  # "the file is still on flash"
        ws2.WSCEnableNSProvider(TEST_ID, True)
        assert _addrs("only.nsptest") == [(NS_TEST, "10.1.2.3")]
        assert prov.starts == 2
    finally:
        _stop()


def test_uninstall(env):
    prov = _start(env)
    try:
        ws2.WSCInstallNameSpace("Test NSP", TEST_PATH, NS_TEST, 1, TEST_ID)
        assert _addrs("only.nsptest") == [(NS_TEST, "10.1.2.3")]
        assert ws2.WSCUnInstallNameSpace(TEST_ID) == 0
        assert prov.cleanups == 1
        assert TEST_ID not in [p.provider_id for p in ws2.WSCEnumNameSpaceProviders()]
        raises(ws2.WSAHOST_NOT_FOUND, ws2.getaddrinfo, "only.nsptest", 22)
        raises(ws2.WSAEINVAL, ws2.WSCUnInstallNameSpace, TEST_ID)
        raises(ws2.WSAEINVAL, ws2.WSCEnableNSProvider, TEST_ID, True)
    finally:
        _stop()


def test_catalog_survives_reload(env):
    from ws2 import nscatalog

    _start(env)
    try:
        ws2.WSCInstallNameSpace("Test NSP", TEST_PATH, NS_TEST, 7, TEST_ID)
        ws2.WSCEnableNSProvider(TEST_ID, False)
        nscatalog.forget()  # RAM gone as after a soft reset; flash kept
        got = [p for p in ws2.WSCEnumNameSpaceProviders() if p.provider_id == TEST_ID]
        assert [(p.name_space, p.version, p.active, p.identifier) for p in got] == [(NS_TEST, 7, False, "Test NSP")]
    finally:
        _stop()


def test_install_refusals(env):
    _start(env)
    try:
        raises(ws2.WSAEINVAL, ws2.WSCInstallNameSpace, "x", TEST_PATH, ws2.NS_ALL, 1, TEST_ID)
        raises(ws2.WSAEINVAL, ws2.WSCInstallNameSpace, "x", TEST_PATH, NS_TEST, 1, "not-a-guid")
        raises(ws2.WSAEINVAL, ws2.WSCInstallNameSpace, "x", TEST_PATH, NS_TEST, 1, NSPM_ID)  # already there
        assert ws2.WSAGetLastError() == ws2.WSAEINVAL
    finally:
        _stop()


def test_broken_provider_does_not_break_the_others(env):
    prov = _start(env)
    prov.bad_table = True
    try:
        ws2.WSCInstallNameSpace("Test NSP", TEST_PATH, NS_TEST, 1, TEST_ID)
        raises(ws2.WSAEINVALIDPROCTABLE, _addrs, "only.nsptest", NS_TEST)
        assert _addrs("a.ws2.test") == [(ws2.NS_DNS, "192.0.2.1")]  # NS_ALL: DNS still answers
        assert TEST_PATH not in sys.modules  # a refused table: the module is dropped again
        raises(ws2.WSAEPROVIDERFAILEDINIT, _addrs, "only.nsptest", NS_TEST)  # the module cannot be imported
    finally:
        _stop()


def test_lookup_api_rules(env):
    _start(env)
    try:
        q = ws2.WSAQuerySet(service_instance_name="a.ws2.test", service_class_id=ws2.SVCID_HOSTNAME,
                            name_space=ws2.NS_DNS)
        raises(ws2.WSAEFAULT, ws2.WSALookupServiceBegin, "a.ws2.test", 0)
        raises(ws2.WSAEINVAL, ws2.WSALookupServiceBegin, ws2.WSAQuerySet(service_instance_name="x"), 0)
        raises(ws2.WSAEINVAL, ws2.WSALookupServiceBegin, q, ws2.LUP_CONTAINERS | ws2.LUP_NOCONTAINERS)
        raises(ws2.WSANO_DATA, ws2.WSALookupServiceBegin, q, ws2.LUP_CONTAINERS)  # DNS has no containers
        raises(ws2.WSASERVICE_NOT_FOUND, ws2.WSALookupServiceBegin,
                ws2.WSAQuerySet(service_instance_name="x", service_class_id=ws2.SVCID_HOSTNAME, name_space=99), 0)
        h = ws2.WSALookupServiceBegin(q, ws2.LUP_RETURN_NAME)
        r = ws2.WSALookupServiceNext(h, 0)
        assert r.service_instance_name == "a.ws2.test" and r.csa_buffer is None  # no LUP_RETURN_ADDR
        raises(ws2.WSA_E_NO_MORE, ws2.WSALookupServiceNext, h, 0)
        raises(ws2.WSA_E_NO_MORE, ws2.WSALookupServiceNext, h, 0)
        assert ws2.WSALookupServiceEnd(h) == 0
        raises(ws2.WSA_INVALID_HANDLE, ws2.WSALookupServiceNext, h, 0)
        raises(ws2.WSA_INVALID_HANDLE, ws2.WSALookupServiceEnd, h)
        h = ws2.WSALookupServiceBegin(q, ws2.LUP_RETURN_BLOB)
        assert ws2.WSALookupServiceNext(h, 0).blob == ("a.ws2.test", [], 2, ["192.0.2.1"])
        ws2.WSALookupServiceEnd(h)
    finally:
        _stop()
    raises(ws2.WSANOTINITIALISED, ws2.WSALookupServiceBegin, q, 0)
