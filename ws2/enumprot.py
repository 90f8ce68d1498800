# ws2/enumprot: WSAEnumProtocols and WSCEnumProtocols.
# MIT licence; part of ws2 for MicroPython.
from ws2 import catalog
from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEFAULT, shown
from ws2.protocol_info import from_tuple


def _protocols(protocols):
    # The C lpiProtocols array: None for all, else protocol numbers (a 0 ends it).
    if protocols is None:
        return None
    if isinstance(protocols, (list, tuple)):
        for p in protocols:
            if not isinstance(p, int) or isinstance(p, bool):
                break
        else:
            return protocols
    raise fail(WSAError(WSAEFAULT, "protocols must be None or a list of protocol numbers, not %s" % shown(protocols)))


def WSAEnumProtocols(protocols=None):
    """Return the visible catalog entries (no PFL_HIDDEN) in catalog order, filtered by protocols."""
    prolog()
    return [from_tuple(e) for e in catalog.visible(_protocols(protocols))]


def WSCEnumProtocols(protocols=None):
    """Like WSAEnumProtocols but including hidden entries; works without WSAStartup."""
    catalog.ensure()
    return [from_tuple(e) for e in catalog.visible(_protocols(protocols), True)]
