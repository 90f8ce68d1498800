# Device-side demo run by `make run`: the catalog as a table, then one TCP exchange through ws2.
# The host prepends HOST and PORT (its echo server). MIT licence; part of ws2 for MicroPython.
import ws2

_AF = {2: "AF_INET", 23: "AF_INET6"}
_TYPE = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW"}
_PROTO = {6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 0: "-"}

data = ws2.WSAStartup(0x0202)
print("%s %s, version %d.%d" % (data.description, data.system_status, data.version & 0xFF, data.version >> 8))
print()
print("Winsock Catalog Provider Entry")
print("%-5s %-16s %-9s %-12s %-12s %s" % ("Id", "Provider", "Family", "Type", "Protocol", "Name"))
print("-" * 86)
for p in ws2.WSCEnumProtocols():
    print("%-5d %-16s %-9s %-12s %-12s %s" % (
        p.catalog_entry_id, ws2.WSCGetProviderPath(p.provider_id),
        _AF.get(p.address_family, p.address_family), _TYPE.get(p.socket_type, p.socket_type),
        _PROTO.get(p.protocol, p.protocol), p.protocol_name))
print()
s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, ws2.IPPROTO_TCP)
try:
    ws2.connect(s, (HOST, PORT))
    msg = b"Hello from ws2 on MicroPython"
    sent = ws2.send(s, msg)
    got = b""
    while len(got) < sent:
        chunk = ws2.recv(s, 256)
        if not chunk:
            break
        got += chunk
    print("socket %d -> %s:%d  sent %d bytes: %r" % (s, HOST, PORT, sent, msg))
    print("socket %d <- %s:%d  recv %d bytes: %r" % (s, HOST, PORT, len(got), got))
    print("echo round trip", "OK" if got == msg else "MISMATCH")
finally:
    ws2.closesocket(s)
    ws2.WSACleanup()
