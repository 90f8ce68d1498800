# Device tests: ws2/catalog: socket() matching rows (Wine's cases, docs/winsock.md), order, flags and hidden
# entries, a busy provider passing socket() on, enumeration filters, and protocol_info skipping the match.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import ws2
from devhelp import BAD, JUNK, PID_A, PID_B, bad_info, entry_ids, err, raises, restore, stop

UPLOAD = ("bad_providers",)
TIMEOUT = 90

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_protocol_info_skips_matching_and_passes_values_untouched': 'no network on the emulated board',
}}


def _base_id(af, typ):
    from ws2 import catalog, instl

    for e in instl.default_catalog()[0]:
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

    restore()
    ws2.WSAStartup(0x0202)
    try:
        for args, want in MATCH_ROWS:
            if isinstance(want, tuple):
                want = _base_id(want[0], want[1])
            if want > 10000:
                raises(want, catalog.match, args[0], args[1], args[2])
                err(want, ws2.socket, args[0], args[1], args[2])  # and through the API, with last error
                continue
            assert catalog.match(args[0], args[1], args[2])[catalog.I_CATALOG_ID] == want, args
            ws2.WSASetLastError(JUNK)
            s = ws2.socket(args[0], args[1], args[2])
            ws2.closesocket(s)
    finally:
        stop()


def test_matching_follows_order_flags_and_hidden_entries():
    from ws2 import catalog

    restore()
    ws2.WSAStartup(0x0202)
    try:
        # a hidden UDP entry that does not match protocol 0, and a RAW-like range entry
        ids = ws2.WSCInstallProvider(PID_A, BAD, [bad_info(flags=0x04, name="hidden udp"),
                                                  bad_info(typ=3, proto=0, off=255, name="raw range")])
        hidden, raw = ids
        udp = _base_id(2, 2)
        assert catalog.match(2, 2, 0)[catalog.I_CATALOG_ID] == udp
        assert catalog.match(2, 3, 200)[catalog.I_CATALOG_ID] == raw
        raises(ws2.WSAEPROTONOSUPPORT, catalog.match, 2, 3, 256)
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
        restore()


def test_a_busy_provider_passes_socket_on_to_the_next_entry():
    # docs/winsock.md, socket matching: WSPSocket failing with WSAEINPROGRESS sends socket() on down the
    # catalog; with a protocol_info naming that entry (no lookup) the error is the caller's.
    import sys

    from ws2 import catalog

    restore()
    ws2.WSAStartup(0x0202)
    try:
        busy, = ws2.WSCInstallProvider(PID_A, BAD, [bad_info(mode=7, name="busy udp")])
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
        err(ws2.WSAEINPROGRESS, ws2.WSASocket, 0, 0, 0, busy_info)
        # The only entry for a protocol and busy: its WSAEINPROGRESS is the answer.
        ws2.WSCDeinstallProvider(PID_A)
        lone, = ws2.WSCInstallProvider(PID_A, BAD, [bad_info(mode=7, typ=3, proto=0, off=255, name="busy raw")])
        err(ws2.WSAEINPROGRESS, ws2.socket, 2, 3, 200)
        assert lone
    finally:
        restore()


def test_enumeration_filters_and_hidden_entries():
    restore()
    ws2.WSAStartup(0x0202)
    try:
        before = ws2.WSAEnumProtocols()
        hid = ws2.WSCInstallProvider(PID_A, BAD, [bad_info(flags=0x0C, name="hidden")])[0]
        odd = ws2.WSCInstallProvider(PID_B, BAD, [bad_info(proto=200, off=10, name="odd range")])[0]
        visible = ws2.WSAEnumProtocols()
        every = ws2.WSCEnumProtocols()
        assert entry_ids(visible) == entry_ids(before) + [odd]  # catalog order, hidden left out
        assert hid in entry_ids(every) and entry_ids(every)[-2:] == [hid, odd]
        for p in visible:
            assert p.protocol_name and not p.provider_flags & ws2.PFL_HIDDEN
        tcp = [p for p in visible if p.protocol == ws2.IPPROTO_TCP]
        udp = [p for p in visible if p.protocol == ws2.IPPROTO_UDP]
        assert entry_ids(ws2.WSAEnumProtocols([ws2.IPPROTO_TCP])) == entry_ids(tcp)
        # Wine's list: unknown protocols are ignored, 0 ends it
        assert entry_ids(ws2.WSAEnumProtocols([0xDEAD, 6, 0xCAFE, 17, 0xBEEF, 0])) == entry_ids([p for p in visible if p in tcp + udp])
        assert entry_ids(ws2.WSAEnumProtocols((205,))) == [odd]
        assert ws2.WSAEnumProtocols([211]) == [] and ws2.WSAEnumProtocols([]) == []
        assert entry_ids(ws2.WSAEnumProtocols([6, 0, 17])) == entry_ids(tcp)
        assert entry_ids(ws2.WSCEnumProtocols([17])) == entry_ids([p for p in every if p.protocol == 17])
        assert hid in entry_ids(ws2.WSCEnumProtocols([17]))
        for bad in ("tcp", 6, [6.0], [True], [None], {6: 1}):
            err(ws2.WSAEFAULT, ws2.WSAEnumProtocols, bad)
        ws2.WSACleanup()
        err(ws2.WSANOTINITIALISED, ws2.WSAEnumProtocols)
        assert entry_ids(ws2.WSCEnumProtocols()) == entry_ids(every)  # WSC* need no WSAStartup
    finally:
        restore()


def test_protocol_info_skips_matching_and_passes_values_untouched(env):
    import sys

    restore()
    ws2.WSAStartup(0x0202)
    try:
        cid = ws2.WSCInstallProvider(PID_A, BAD, [bad_info()])[0]
        info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == cid][0]
        for args in ((0, 0, 0), (-1, -1, -1), (2, 1, 6), (0, -1, 17)):
            s = ws2.WSASocket(args[0], args[1], args[2], info)  # (0, 0, 0) alone would be WSAEINVAL
            log = sys.modules[BAD].log[-1]
            assert log[:4] == ("socket",) + args and log[4] is info, log
            ws2.closesocket(s)
        stranger = ws2.WSAProtocolInfo(catalog_entry_id=4242)
        err(ws2.WSAEINVAL, ws2.WSASocket, 0, 0, 0, stranger)
        err(ws2.WSAEFAULT, ws2.WSASocket, 0, 0, 0, "info")
        err(ws2.WSAEINVAL, ws2.WSASocket, 2, 1, 6, None, 0, 0x10000)  # an unknown flag
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
        restore()
