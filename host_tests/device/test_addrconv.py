# Device tests: ws2/addrconv: byte order, text addresses, and WSAStringToAddress/WSAAddressToString routed to
# the family's provider. Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import BAD, PID_A, PID_B, bad_info, entry_ids, err, restore, stop

UPLOAD = ("bad_providers",)
TIMEOUT = 90


def test_byte_order_and_text_addresses():
    # These need no WSAStartup (they are not SPI functions).
    stop()
    little = sys.byteorder == "little"
    assert ws2.htons(0x1234) == (0x3412 if little else 0x1234)
    assert ws2.ntohs(ws2.htons(0xBEEF)) == 0xBEEF
    assert ws2.htonl(0x12345678) == (0x78563412 if little else 0x12345678)
    assert ws2.ntohl(ws2.htonl(0xFFFFFFFE)) == 0xFFFFFFFE
    for fn, x in ((ws2.htons, 0x10000), (ws2.htons, -1), (ws2.htonl, 1 << 32), (ws2.ntohl, "1")):
        err(ws2.WSAEINVAL, fn, x)
    rows = (
        (ws2.AF_INET, "10.0.0.5", b"\x0a\x00\x00\x05"), (ws2.AF_INET, "255.255.255.255", b"\xff" * 4),
        (ws2.AF_INET6, "::", bytes(16)), (ws2.AF_INET6, "::1", bytes(15) + b"\x01"),
        (ws2.AF_INET6, "::ffff:10.0.0.5", bytes(10) + b"\xff\xff\x0a\x00\x00\x05"),
        (ws2.AF_INET6, "2001:db8::5", b"\x20\x01\x0d\xb8" + bytes(11) + b"\x05"),
        (ws2.AF_INET6, "1:0:0:2::3", b"\x00\x01\x00\x00\x00\x00\x00\x02" + bytes(6) + b"\x00\x03"),
    )
    for af, text, packed in rows:
        assert ws2.inet_pton(af, text) == packed, text
        assert ws2.inet_ntop(af, packed) == text, text
    assert ws2.inet_pton(ws2.AF_INET6, "2001:DB8:0:0:0:0:0:5") == rows[5][2]
    for af, text in ((ws2.AF_INET, "1.2.3"), (ws2.AF_INET, "01.2.3.4"), (ws2.AF_INET6, "1::2::3"),
                     (ws2.AF_INET6, "::1.2.3.4.5"), (ws2.AF_INET6, "12345::")):
        err(ws2.WSAEINVAL, ws2.inet_pton, af, text)
    err(ws2.WSAEFAULT, ws2.inet_pton, ws2.AF_INET, None)
    err(ws2.WSAEAFNOSUPPORT, ws2.inet_pton, 99, "1.2.3.4")
    err(ws2.WSAEINVAL, ws2.inet_ntop, ws2.AF_INET6, bytes(4))
    err(ws2.WSAEFAULT, ws2.inet_ntop, ws2.AF_INET, None)


def test_address_strings_are_routed_to_the_family_provider():
    import sys

    restore()
    err(ws2.WSANOTINITIALISED, ws2.WSAStringToAddress, "1.2.3.4", ws2.AF_INET)
    err(ws2.WSANOTINITIALISED, ws2.WSAAddressToString, ("1.2.3.4", 0))
    ws2.WSAStartup(0x0202)
    try:
        cid = ws2.WSCInstallProvider(PID_A, BAD, [bad_info(af=99)])[0]
        assert ws2.WSAStringToAddress("abc", 99) == ("fake:abc", 99)
        m = sys.modules[BAD]
        assert m.log[-1] == ("s2a", "abc", 99, cid)
        info = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == cid][0]
        # with a protocol_info the entry is the caller's choice, whatever the family
        assert ws2.WSAStringToAddress("1.2.3.4", ws2.AF_INET, info) == ("fake:1.2.3.4", 2)
        assert ws2.WSAAddressToString(("1.2.3.4", 80), info) == "fake:1.2.3.4"
        assert m.log[-1] == ("a2s", ("1.2.3.4", 80), cid)
        err(ws2.WSAEINVAL, ws2.WSAStringToAddress, "x", 98)  # no provider for the family
        err(ws2.WSAEFAULT, ws2.WSAStringToAddress, None, ws2.AF_INET)
        err(ws2.WSAEFAULT, ws2.WSAStringToAddress, b"1.2.3.4", ws2.AF_INET)
        err(ws2.WSAEINVAL, ws2.WSAStringToAddress, "1.2.3.4", "2")
        err(ws2.WSAEFAULT, ws2.WSAStringToAddress, "1.2.3.4", 2, "info")
        err(ws2.WSAEINVAL, ws2.WSAStringToAddress, "1.2.3.4", 2, ws2.WSAProtocolInfo(catalog_entry_id=4242))
        for bad in ("1.2.3.4", None, ("1.2.3.4",), ("1.2.3.4", 1, 2)):
            err(ws2.WSAEFAULT, ws2.WSAAddressToString, bad)
        # without one, the first entry of the family in catalog order: put a fake AF_INET entry first
        v4 = ws2.WSCInstallProvider(PID_B, BAD, [bad_info(name="fake v4")])[0]
        order = entry_ids(ws2.WSCEnumProtocols())
        order.remove(v4)
        ws2.WSCWriteProviderOrder([v4] + order)
        assert ws2.WSAStringToAddress("10.0.0.5:80", ws2.AF_INET) == ("fake:10.0.0.5:80", 2)
        assert ws2.WSAAddressToString(("10.0.0.5", 80)) == "fake:10.0.0.5"
        assert m.log[-1] == ("a2s", ("10.0.0.5", 80), v4)
        ws2.WSACleanup()
        assert BAD not in sys.modules  # loaded for the conversions, released by the last WSACleanup
    finally:
        restore()
