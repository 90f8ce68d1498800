# ws2/protocol_info: WSAProtocolInfo, the WSAPROTOCOL_INFOW fields under snake_case names.
# MIT licence; part of ws2 for MicroPython.
from ws2.errors import WSAError, WSAEINVAL

# Field order is WSAPROTOCOL_INFOW's; the catalog keeps entries as tuples in
# this order (a tuple costs a fraction of an instance's RAM) and builds
# WSAProtocolInfo objects only for the caller.
FIELDS = (
    "service_flags1", "service_flags2", "service_flags3", "service_flags4", "provider_flags",
    "provider_id", "catalog_entry_id", "protocol_chain", "version", "address_family",
    "max_sockaddr", "min_sockaddr", "socket_type", "protocol", "protocol_max_offset",
    "network_byte_order", "security_scheme", "message_size", "provider_reserved", "protocol_name",
)
_DEFAULTS = (0, 0, 0, 0, 0, "", 0, (), 2, 0, 16, 16, 0, 0, 0, 0, 0, 0, 0, "")


class WSAProtocolInfo:
    """One catalog entry (WSAPROTOCOL_INFOW)."""

    # Defaults live on the class: an instance stores only the fields given
    # to it, which halves the cost of building one (socket() does, per entry).
    service_flags1 = service_flags2 = service_flags3 = service_flags4 = provider_flags = 0
    provider_id = ""
    catalog_entry_id = 0
    protocol_chain = ()
    version = 2
    address_family = 0
    max_sockaddr = min_sockaddr = 16
    socket_type = protocol = protocol_max_offset = network_byte_order = security_scheme = 0
    message_size = provider_reserved = 0
    protocol_name = ""

    def __init__(self, **fields):
        for name in fields:
            if name not in FIELDS:
                raise WSAError(WSAEINVAL, "unknown WSAProtocolInfo field %r" % (name,))
            setattr(self, name, fields[name])
        if "protocol_chain" in fields:
            self.protocol_chain = tuple(self.protocol_chain)

    def to_tuple(self):
        """Return the fields as a tuple in WSAPROTOCOL_INFOW order."""
        return tuple(getattr(self, n) for n in FIELDS)

    def __eq__(self, other):
        return isinstance(other, WSAProtocolInfo) and self.to_tuple() == other.to_tuple()

    def __repr__(self):
        return "WSAProtocolInfo(catalog_entry_id=%d, protocol_name=%r)" % (self.catalog_entry_id, self.protocol_name)


def from_tuple(t):
    """Build a WSAProtocolInfo from a catalog tuple."""
    p = WSAProtocolInfo()
    for i in range(len(FIELDS)):
        setattr(p, FIELDS[i], t[i])
    return p


def _dword(v):
    # Every integer field is a C int or DWORD: refuse what cannot be stored in one.
    return isinstance(v, int) and not isinstance(v, bool) and -0x80000000 <= v <= 0xFFFFFFFF


def check(t):
    """Validate a catalog tuple's types; raise WSAEINVAL naming the first bad field."""
    if len(t) != len(FIELDS):
        raise WSAError(WSAEINVAL, "a protocol info has %d fields, not %d" % (len(t), len(FIELDS)))
    for i in range(len(FIELDS)):
        v = t[i]
        want = type(_DEFAULTS[i])
        if want is tuple:
            ok = isinstance(v, tuple) and len(v) <= 7 and all(_dword(c) for c in v)
        elif want is str:
            ok = isinstance(v, str) and len(v) <= 255  # WSAPROTOCOL_LEN
        else:
            ok = _dword(v)
        if not ok:
            raise WSAError(WSAEINVAL, "protocol info field %s has a bad value %r" % (FIELDS[i], v))
    return t
