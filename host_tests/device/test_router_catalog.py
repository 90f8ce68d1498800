# Device tests: the catalog: socket() matching rows (Wine's cases, docs/winsock.md), enumeration
# filters and hidden entries, WSC install/deinstall/update/reorder, protocol_info skipping the
# match, and WSAStringToAddress/WSAAddressToString routing. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import ws2

UPLOAD = ("bad_providers",)
TIMEOUT = 90

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_protocol_info_skips_matching_and_passes_values_untouched': 'no network on the emulated board',
}}

JUNK = 12345
# The provider module's import path: beside this module on CPython, /dtest on the board.
BAD = (__name__.rsplit(".", 1)[0] + ".bad_providers") if "." in __name__ else "bad_providers"
PID_A = "{0BAD0000-0000-4000-8000-00000000000A}"
PID_B = "{0BAD0000-0000-4000-8000-00000000000B}"


def _stop():
    while True:
        try:
            ws2.WSACleanup()
        except ws2.WSAError:
            return


def _restore():
    # The board's flash outlives the test: leave the default catalog behind.
    _stop()
    from ws2 import catalog

    catalog.reset()


def _expect(code, fn, *args):
    ws2.WSASetLastError(JUNK)
    try:
        fn(*args)
    except ws2.WSAError as e:
        assert e.errno == code, "expected %d, got %r" % (code, e)
        assert ws2.WSAGetLastError() == code, (code, ws2.WSAGetLastError())
        return e
    raise AssertionError("expected WSA error %d from %r" % (code, args))


def _raises(code, fn, *args):
    # for the router's internals, which raise but leave the last error to the API edge
    try:
        fn(*args)
    except ws2.WSAError as e:
        assert e.errno == code, "expected %d, got %r" % (code, e)
        return
    raise AssertionError("expected WSA error %d from %r" % (code, args))


def _info(mode=0, af=2, typ=2, proto=17, flags=0x08, chain=(1,), name="bad_providers test", off=0):
    return ws2.WSAProtocolInfo(address_family=af, socket_type=typ, protocol=proto, provider_flags=flags,
                               protocol_chain=chain, protocol_name=name, provider_reserved=mode,
                               protocol_max_offset=off)


def _ids(infos):
    return [p.catalog_entry_id for p in infos]


def _base_id(af, typ):
    from ws2 import catalog, defcatalog

    for e in defcatalog.default_catalog()[0]:
        if e[catalog.I_AF] == af and e[catalog.I_TYPE] == typ and len(e[catalog.I_CHAIN]) == 1:
            return e[catalog.I_CATALOG_ID]
    return ws2.WSAEAFNOSUPPORT  # the port has no such entry (esp32: no IPv6)


# (af, type, proto) -> (af, type) of the base entry chosen, or the WSA error
MATCH_ROWS = (
    ((2, 1, 0), (2, 1)), ((2, 0, 0), (2, 1)), ((2, 2, 0), (2, 2)), ((0, 0, 17), (2, 2)), ((0, 0, 6), (2, 1)),
    ((0, 2, 17), (2, 2)), ((2, 1, 6), (2, 1)), ((2, 2, 17), (2, 2)), ((23, 1, 0), (23, 1)), ((23, 0, 17), (23, 2)),
    # af 0 with protocol 0, whatever the type
    ((0, 0, 0), ws2.WSAEINVAL), ((0, 1, 0), ws2.WSAEINVAL), ((0, -1, 0), ws2.WSAEINVAL), ((0, 0xDEAD, 0), ws2.WSAEINVAL),
    # no entry of that type
    ((2, -1, 0), ws2.WSAESOCKTNOSUPPORT), ((0, -1, 17), ws2.WSAESOCKTNOSUPPORT), ((0, -1, -1), ws2.WSAESOCKTNOSUPPORT),
    ((2, 0xDEAD, 0), ws2.WSAESOCKTNOSUPPORT), ((2, 3, 0), ws2.WSAESOCKTNOSUPPORT),
    # the type, but not the family
    ((-1, 1, 17), ws2.WSAEAFNOSUPPORT), ((6, 1, 0), ws2.WSAEAFNOSUPPORT), ((26, 0, 6), ws2.WSAEAFNOSUPPORT),
    # type and family, but not the protocol
    ((2, 1, 17), ws2.WSAEPROTONOSUPPORT), ((2, 2, 6), ws2.WSAEPROTONOSUPPORT), ((2, 0, -1), ws2.WSAEPROTONOSUPPORT),
    ((0, 1, -1), ws2.WSAEPROTONOSUPPORT), ((0, 0, 0xDEAD), ws2.WSAEPROTONOSUPPORT),
)


def test_matching_rows_on_the_default_catalog():
    from ws2 import catalog

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        for args, want in MATCH_ROWS:
            if isinstance(want, tuple):
                want = _base_id(want[0], want[1])
            if want > 10000:
                _raises(want, catalog.match, args[0], args[1], args[2])
                _expect(want, ws2.socket, args[0], args[1], args[2])  # and through the API, with last error
                continue
            assert catalog.match(args[0], args[1], args[2])[catalog.I_CATALOG_ID] == want, args
            ws2.WSASetLastError(JUNK)
            s = ws2.socket(args[0], args[1], args[2])
            ws2.closesocket(s)
    finally:
        _stop()


def test_matching_follows_order_flags_and_hidden_entries():
    from ws2 import catalog

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        # a hidden UDP entry that does not match protocol 0, and a RAW-like range entry
        ids = ws2.WSCInstallProvider(PID_A, BAD, [_info(flags=0x04, name="hidden udp"),
                                                  _info(typ=3, proto=0, off=255, name="raw range")])
        hidden, raw = ids
        udp = _base_id(2, 2)
        assert catalog.match(2, 2, 0)[catalog.I_CATALOG_ID] == udp
        assert catalog.match(2, 3, 200)[catalog.I_CATALOG_ID] == raw
        _raises(ws2.WSAEPROTONOSUPPORT, catalog.match, 2, 3, 256)
        assert catalog.match(2, 3, 0)[catalog.I_CATALOG_ID] == raw  # 0 lies in its range: no flag needed
        order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
        order.remove(hidden)
        ws2.WSCWriteProviderOrder([hidden] + order)
        # hidden entries take part in matching: socket(AF_INET, SOCK_DGRAM, 17) goes to it now
        assert catalog.match(2, 2, 17)[catalog.I_CATALOG_ID] == hidden
        assert catalog.match(2, 2, 0)[catalog.I_CATALOG_ID] == udp  # but not for protocol 0
        import sys

        s = ws2.socket(2, 2, 17)
        m = sys.modules[BAD]
        assert m.log[-1][0] == "socket" and m.log[-1][4].catalog_entry_id == hidden
        ws2.closesocket(s)
    finally:
        _restore()


def test_a_busy_provider_passes_socket_on_to_the_next_entry():
    # docs/winsock.md, socket matching: WSPSocket failing with WSAEINPROGRESS sends socket() on down the
    # catalog; with a protocol_info naming that entry (no lookup) the error is the caller's.
    import sys

    from ws2 import catalog

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        busy, = ws2.WSCInstallProvider(PID_A, BAD, [_info(mode=7, name="busy udp")])
        order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
        order.remove(busy)
        ws2.WSCWriteProviderOrder([busy] + order)
        assert catalog.match(2, 2, 17)[catalog.I_CATALOG_ID] == busy
        s = ws2.socket(2, 2, 17)
        m = sys.modules[BAD]
        assert m.log[-1][0] == "socket" and m.log[-1][4].catalog_entry_id == busy  # asked first
        want = _base_id(2, 2)
        from ws2 import handles

        assert handles.entry[(s & 0xFF) - 1] == want, (handles.entry[(s & 0xFF) - 1], want)
        ws2.closesocket(s)
        busy_info = [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == busy][0]
        _expect(ws2.WSAEINPROGRESS, ws2.WSASocket, 0, 0, 0, busy_info)
        # The only entry for a protocol and busy: its WSAEINPROGRESS is the answer.
        ws2.WSCDeinstallProvider(PID_A)
        lone, = ws2.WSCInstallProvider(PID_A, BAD, [_info(mode=7, typ=3, proto=0, off=255, name="busy raw")])
        _expect(ws2.WSAEINPROGRESS, ws2.socket, 2, 3, 200)
        assert lone
    finally:
        _restore()


def test_enumeration_filters_and_hidden_entries():
    _restore()
    ws2.WSAStartup(0x0202)
    try:
        before = ws2.WSAEnumProtocols()
        hid = ws2.WSCInstallProvider(PID_A, BAD, [_info(flags=0x0C, name="hidden")])[0]
        odd = ws2.WSCInstallProvider(PID_B, BAD, [_info(proto=200, off=10, name="odd range")])[0]
        visible = ws2.WSAEnumProtocols()
        every = ws2.WSCEnumProtocols()
        assert _ids(visible) == _ids(before) + [odd]  # catalog order, hidden left out
        assert hid in _ids(every) and _ids(every)[-2:] == [hid, odd]
        for p in visible:
            assert p.protocol_name and not p.provider_flags & ws2.PFL_HIDDEN
        tcp = [p for p in visible if p.protocol == ws2.IPPROTO_TCP]
        udp = [p for p in visible if p.protocol == ws2.IPPROTO_UDP]
        assert _ids(ws2.WSAEnumProtocols([ws2.IPPROTO_TCP])) == _ids(tcp)
        # Wine's list: unknown protocols are ignored, 0 ends it
        assert _ids(ws2.WSAEnumProtocols([0xDEAD, 6, 0xCAFE, 17, 0xBEEF, 0])) == _ids([p for p in visible if p in tcp + udp])
        assert _ids(ws2.WSAEnumProtocols((205,))) == [odd]
        assert ws2.WSAEnumProtocols([211]) == [] and ws2.WSAEnumProtocols([]) == []
        assert _ids(ws2.WSAEnumProtocols([6, 0, 17])) == _ids(tcp)
        assert _ids(ws2.WSCEnumProtocols([17])) == _ids([p for p in every if p.protocol == 17])
        assert hid in _ids(ws2.WSCEnumProtocols([17]))
        for bad in ("tcp", 6, [6.0], [True], [None], {6: 1}):
            _expect(ws2.WSAEFAULT, ws2.WSAEnumProtocols, bad)
        ws2.WSACleanup()
        _expect(ws2.WSANOTINITIALISED, ws2.WSAEnumProtocols)
        assert _ids(ws2.WSCEnumProtocols()) == _ids(every)  # WSC* need no WSAStartup
    finally:
        _restore()


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
            e = _expect(code, ws2.WSCInstallProvider, args[0], args[1], args[2])
            assert len(str(e)) > 20, str(e)  # a clear message, not just a number
            assert _ids(ws2.WSCEnumProtocols()) == _ids(got)
        # reorder: matching and enumeration follow
        order = [ids[1]] + [i for i in _ids(got) if i != ids[1]]
        ws2.WSCWriteProviderOrder(order)
        assert _ids(ws2.WSCEnumProtocols()) == order
        assert catalog.match(0, 0, 17)[catalog.I_CATALOG_ID] == ids[1]
        for bad in (order[:-1], order + [order[0]], order[:-1] + [order[0]], order[:-1] + [4242], None):
            _expect(ws2.WSAEINVAL, ws2.WSCWriteProviderOrder, bad)
        assert _ids(ws2.WSCEnumProtocols()) == order
        # update in place: ids and positions kept, one more entry at the end
        ws2.WSCUpdateProvider(PID_A, BAD, [_info(name="A"), _info(name="B"), _info(name="C")])
        now = ws2.WSCEnumProtocols()
        assert _ids(now) == order + [first + 2]
        assert [p.protocol_name for p in now if p.provider_id == PID_A] == ["B", "A", "C"]
        # deinstall: gone, the path too, and the ids are never handed out again
        ws2.WSCDeinstallProvider(PID_A)
        assert _ids(ws2.WSCEnumProtocols()) == _ids(base)
        _expect(ws2.WSAEINVAL, ws2.WSCGetProviderPath, PID_A)
        _expect(ws2.WSAEINVAL, ws2.WSCDeinstallProvider, PID_A)
        assert ws2.WSCInstallProvider(PID_A, BAD, [_info()]) == [first + 3]
    finally:
        _restore()
    assert _ids(ws2.WSCEnumProtocols()) == _ids(base)


def test_protocol_info_skips_matching_and_passes_values_untouched(env):
    import sys

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        cid = ws2.WSCInstallProvider(PID_A, BAD, [_info()])[0]
        info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == cid][0]
        for args in ((0, 0, 0), (-1, -1, -1), (2, 1, 6), (0, -1, 17)):
            s = ws2.WSASocket(args[0], args[1], args[2], info)  # (0, 0, 0) alone would be WSAEINVAL
            log = sys.modules[BAD].log[-1]
            assert log[:4] == ("socket",) + args and log[4] is info, log
            ws2.closesocket(s)
        stranger = ws2.WSAProtocolInfo(catalog_entry_id=4242)
        _expect(ws2.WSAEINVAL, ws2.WSASocket, 0, 0, 0, stranger)
        _expect(ws2.WSAEFAULT, ws2.WSASocket, 0, 0, 0, "info")
        _expect(ws2.WSAEINVAL, ws2.WSASocket, 2, 1, 6, None, 0, 0x10000)  # an unknown flag
        # wspm takes FROM_PROTOCOL_INFO and 0 from the structure (UDP here), explicit values win
        udp = [p for p in ws2.WSAEnumProtocols([17]) if p.provider_id == "{AAFC3764-763B-427B-B15B-97A6E5C983CE}"][0]
        for args in ((-1, -1, -1), (0, 0, 0)):
            s = ws2.WSASocket(args[0], args[1], args[2], udp)
            ws2.connect(s, (env.host_ip, env.udp_echo_port))
            ws2.send(s, b"via info")
            assert ws2.recv(s, 64) == b"via info"
            ws2.closesocket(s)
        s = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP, udp)  # a stream socket after all
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        ws2.send(s, b"tcp")
        assert ws2.recv(s, 16) == b"tcp"
        ws2.closesocket(s)
    finally:
        _restore()


def test_address_strings_are_routed_to_the_family_provider():
    import sys

    _restore()
    _expect(ws2.WSANOTINITIALISED, ws2.WSAStringToAddress, "1.2.3.4", ws2.AF_INET)
    _expect(ws2.WSANOTINITIALISED, ws2.WSAAddressToString, ("1.2.3.4", 0))
    ws2.WSAStartup(0x0202)
    try:
        cid = ws2.WSCInstallProvider(PID_A, BAD, [_info(af=99)])[0]
        assert ws2.WSAStringToAddress("abc", 99) == ("fake:abc", 99)
        m = sys.modules[BAD]
        assert m.log[-1] == ("s2a", "abc", 99, cid)
        info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == cid][0]
        # with a protocol_info the entry is the caller's choice, whatever the family
        assert ws2.WSAStringToAddress("1.2.3.4", ws2.AF_INET, info) == ("fake:1.2.3.4", 2)
        assert ws2.WSAAddressToString(("1.2.3.4", 80), info) == "fake:1.2.3.4"
        assert m.log[-1] == ("a2s", ("1.2.3.4", 80), cid)
        _expect(ws2.WSAEINVAL, ws2.WSAStringToAddress, "x", 98)  # no provider for the family
        _expect(ws2.WSAEFAULT, ws2.WSAStringToAddress, None, ws2.AF_INET)
        _expect(ws2.WSAEFAULT, ws2.WSAStringToAddress, b"1.2.3.4", ws2.AF_INET)
        _expect(ws2.WSAEINVAL, ws2.WSAStringToAddress, "1.2.3.4", "2")
        _expect(ws2.WSAEFAULT, ws2.WSAStringToAddress, "1.2.3.4", 2, "info")
        _expect(ws2.WSAEINVAL, ws2.WSAStringToAddress, "1.2.3.4", 2, ws2.WSAProtocolInfo(catalog_entry_id=4242))
        for bad in ("1.2.3.4", None, ("1.2.3.4",), ("1.2.3.4", 1, 2)):
            _expect(ws2.WSAEFAULT, ws2.WSAAddressToString, bad)
        # without one, the first entry of the family in catalog order: put a fake AF_INET entry first
        v4 = ws2.WSCInstallProvider(PID_B, BAD, [_info(name="fake v4")])[0]
        order = _ids(ws2.WSCEnumProtocols())
        order.remove(v4)
        ws2.WSCWriteProviderOrder([v4] + order)
        assert ws2.WSAStringToAddress("10.0.0.5:80", ws2.AF_INET) == ("fake:10.0.0.5:80", 2)
        assert ws2.WSAAddressToString(("10.0.0.5", 80)) == "fake:10.0.0.5"
        assert m.log[-1] == ("a2s", ("10.0.0.5", 80), v4)
        ws2.WSACleanup()
        assert BAD not in sys.modules  # loaded for the conversions, released by the last WSACleanup
    finally:
        _restore()


# Windows' text forms, as wspm (like CE's) must give them.
S2A_ROWS = (
    ("10.0.0.5", ws2.AF_INET, ("10.0.0.5", 0)), ("10.0.0.5:80", ws2.AF_INET, ("10.0.0.5", 80)),
    ("255.255.255.255:65535", ws2.AF_INET, ("255.255.255.255", 65535)),
    ("::1", ws2.AF_INET6, ("::1", 0, 0, 0)), ("[::1]:80", ws2.AF_INET6, ("::1", 80, 0, 0)),
    ("[fe80::1%3]:8080", ws2.AF_INET6, ("fe80::1", 8080, 0, 3)), ("::ffff:10.0.0.5", ws2.AF_INET6, ("::ffff:10.0.0.5", 0, 0, 0)),
)
A2S_ROWS = (
    (("10.0.0.5", 0), "10.0.0.5"), (("10.0.0.5", 80), "10.0.0.5:80"), (("::1", 0, 0, 0), "::1"),
    (("::1", 80, 0, 0), "[::1]:80"), (("fe80::1", 8080, 0, 3), "[fe80::1%3]:8080"),
)


def test_wspm_address_strings(env):
    from ws2 import defcatalog

    _restore()
    ws2.WSAStartup(0x0202)
    try:
        try:
            ws2.WSAStringToAddress("10.0.0.5", ws2.AF_INET)
        except ws2.WSAError as e:
            if e.errno == ws2.WSAEOPNOTSUPP:
                env.skip("providers/wspm has no WSPStringToAddress yet (slot 29)")
            raise
        for text, af, want in S2A_ROWS:
            if af == ws2.AF_INET6 and not defcatalog.has_ipv6():
                continue
            assert ws2.WSAStringToAddress(text, af) == want, (text, ws2.WSAStringToAddress(text, af))
        for addr, want in A2S_ROWS:
            if len(addr) == 4 and not defcatalog.has_ipv6():
                continue
            assert ws2.WSAAddressToString(addr) == want, (addr, ws2.WSAAddressToString(addr))
        for text, af in (("10.0.0.256", ws2.AF_INET), ("10.0.0.5:", ws2.AF_INET), ("10.0.0.5:65536", ws2.AF_INET),
                         ("host.example", ws2.AF_INET), ("", ws2.AF_INET), ("[::1", ws2.AF_INET6)):
            if af == ws2.AF_INET6 and not defcatalog.has_ipv6():
                continue
            _expect(ws2.WSAEINVAL, ws2.WSAStringToAddress, text, af)
    finally:
        _stop()
