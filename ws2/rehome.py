# ws2/rehome: moving an open socket onto a layered chain, keeping its handle (a ws2 extension).
# MIT licence; part of ws2 for MicroPython.
#
# Windows picks a socket's providers once, at socket(). ws2 can also put a
# layer over a socket later: the socket below keeps living (its options, its
# bind, its connection), it gets a new router handle of its own, and the
# application's handle is from then on the layer's socket over it. That is how
# setsockopt(SO_SECURE, SO_SEC_SSL) on a plain TCP socket of the default
# catalog turns TLS on as on Windows CE, without every TCP socket paying for
# ssllsp, and how the socket drop-in wraps a connected socket in TLS.
#
# Two ws2 SPI extensions make it (docs/spi.md, "Re-homing"):
#   the socket below answers WSPIoctl(ctx, SIO_SET_SOCKET_HANDLE, new) by
#   taking the new handle as its own and returning the old one (it calls
#   WPUCloseSocketHandle with it later);
#   the layer's module has WSPAdoptSocket(lower_handle, protocol_info, handle)
#   returning its context over the lower socket, answering to handle.
from ws2 import catalog, handles, provider, state
from ws2.dispatch import fail
from ws2.errors import WSAError, WSAEINVAL, WSAEOPNOTSUPP

from ws2.port import const


_WSP_IOCTL = const(16)
_F_KIND = const(3)  # handles.F_IFS | handles.F_LAYERED
_F_PENDING = const(8)
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)  # ws2's own (ws2/const.py SIO_SET_SOCKET_HANDLE)


def chain_over(entry_id, security_scheme=None):
    """The first chain entry (catalog order) that puts one layer over entry_id's protocol, or None."""
    for e in _chains_over(entry_id):
        if security_scheme is None or e[catalog.I_SECURITY] == security_scheme:
            return e[catalog.I_CATALOG_ID]
    return None


def base_of(entry_id):
    """The base entry at the bottom of entry_id's protocol chain (entry_id itself for a base entry)."""
    chain = _chain_of(entry_id)
    return chain[-1] if chain else entry_id


def rehome(s, entry_id, over_layers=False):
    """Put chain entry entry_id's top layer over socket s; s then names the layer's socket (WSAEINVAL if it does not fit).

    entry_id is a chain one layer over s's own chain; with over_layers also one layer over s's base
    entry: the layer then goes over s's layers, which stay below it (the socket drop-in's TLS over a
    capture or counting layer).
    """
    try:
        return _rehome(s, entry_id, over_layers)
    except Exception as e:
        raise fail(e)


def _rehome(s, entry_id, over_layers):
    i = handles.slot(s)
    top = catalog.by_id(entry_id)
    own = _chain_of(handles.entry[i])
    if top is None or top not in _chains_over(handles.entry[i]) and not (over_layers and top in _chains_over(own[-1])):
        raise WSAError(WSAEINVAL, "catalog entry %r is not a chain one layer above socket %d's protocol" % (entry_id, s))
    if handles.flags[i] & _F_PENDING:
        raise WSAError(WSAEINVAL, "socket %d has overlapped requests pending" % s)
    lp = provider.for_entry(top)
    adopt = getattr(lp.module, "WSPAdoptSocket", None)
    if adopt is None:
        raise WSAError(WSAEOPNOTSUPP, "%s cannot take over an open socket (no WSPAdoptSocket)" % lp.path)
    bp = handles.prov[i]
    bc = handles.ctx[i]
    low = handles.alloc(bp, bc, handles.entry[i], handles.flags[i] & _F_KIND)
    bp.sockets += 1
    try:
        try:
            old = bp.table[_WSP_IOCTL](bc, _SIO_SET_SOCKET_HANDLE, low, 0, None, None, None)
        except Exception:
            old = None
        if old != s:
            if old is not None:  # it took the handle, but it was not this socket's own: undo
                bp.table[_WSP_IOCTL](bc, _SIO_SET_SOCKET_HANDLE, old, 0, None, None, None)
            raise WSAError(WSAEOPNOTSUPP, "%s cannot hand socket %d to a layer" % (bp.path, s))
        try:
            from ws2.socklife import _info_for

            info = _info_for(top)
            info.protocol_chain = tuple(top[catalog.I_CHAIN][:1]) + own  # the layer finds s's own provider below it
            ctx = adopt(low, info, s)
        except BaseException:
            bp.table[_WSP_IOCTL](bc, _SIO_SET_SOCKET_HANDLE, s, 0, None, None, None)
            raise
    except BaseException:
        with state.lock:
            handles.free((low & 0xFF) - 1)
            bp.sockets -= 1
        raise
    with state.lock:
        handles.ctx[i] = ctx
        handles.prov[i] = lp
        handles.entry[i] = entry_id
        handles.flags[i] = (handles.flags[i] & ~_F_KIND) | handles.F_LAYERED
        lp.sockets += 1
        bp.sockets -= 1
    _moved(bp)
    return 0


def _chain_of(entry_id):
    # The protocol chain of a socket made on entry_id: its chain entry's chain, or (entry_id,) for a base entry.
    below = catalog.by_id(entry_id)
    if below is None:
        return ()
    return tuple(below[catalog.I_CHAIN]) if len(below[catalog.I_CHAIN]) > 1 else (entry_id,)


def _chains_over(entry_id):
    # Chain entries, in catalog order, whose chain is entry_id's protocol with one layer on top.
    want = _chain_of(entry_id)
    if not want:
        return []
    return [e for e in catalog.entries if len(e[catalog.I_CHAIN]) == len(want) + 1 and e[catalog.I_CHAIN][1:] == want]


def _moved(bp):
    # The handle now names another provider's socket: what select and the pump kept must be rebuilt.
    import sys

    ne = sys.modules.get("ws2.netevents")
    if ne is not None:
        ne.changed()
    g = getattr(bp, "select_group", None)
    if g is not None:
        g.lens[0] = -1
