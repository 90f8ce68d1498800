# ws2/secure: SO_SECURE on a plain socket, the Windows CE way, without every socket paying for TLS.
# MIT licence; part of ws2 for MicroPython.
#
# On CE every TCP socket goes through ssllsp, so setsockopt(SO_SECURE,
# SO_SEC_SSL) on any socket() works. ws2's default catalog puts the TLS chain
# after the plain entries (ssllsp costs RAM, a second handle and a call per
# send/recv), so socket() is plain wspm; when SO_SECURE is asked for on such a
# socket the router re-homes it (ws2/rehome) onto the first chain in catalog
# order that puts a TLS layer (security_scheme SECURITY_PROTOCOL_SSL) over its
# protocol, keeping the handle, and the layer takes the option from there.
from ws2 import catalog, handles
from ws2.dispatch import call, fail
from ws2.errors import WSAError, WSAEINVAL, WSAEISCONN

from ws2.port import const


_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKOPT = const(14)
_WSP_SETSOCKOPT = const(26)
_SOL_SOCKET = const(0xFFFF)
_SO_SECURE = const(0x2001)
_SO_SEC_NONE = const(0x2002)
_SO_SEC_SSL = const(0x2004)
_SECURITY_PROTOCOL_SSL = const(1)


def _tls_chain(s):
    # The TLS chain to move plain socket s onto, or None (s layered already, or no TLS chain over its protocol).
    i = handles.slot(s)
    e = catalog.by_id(handles.entry[i])
    if e is None or len(e[catalog.I_CHAIN]) != 1:
        return None
    from ws2 import rehome

    return rehome.chain_over(e[catalog.I_CATALOG_ID], _SECURITY_PROTOCOL_SSL)


def setopt(s, value):
    """setsockopt(s, SOL_SOCKET, SO_SECURE, value): a plain socket moves onto the TLS chain for SO_SEC_SSL."""
    chain = _tls_chain(s)
    if chain is None:
        return call(s, _WSP_SETSOCKOPT, _SOL_SOCKET, _SO_SECURE, value)
    try:
        if value == _SO_SEC_NONE:
            return 0  # plain it is: nothing to load
        if value != _SO_SEC_SSL:
            raise WSAError(WSAEINVAL, "SO_SECURE takes SO_SEC_SSL or SO_SEC_NONE, not %r" % (value,))
        i = handles.slot(s)
        try:
            handles.prov[i].table[_WSP_GETPEERNAME](handles.ctx[i])  # (not through call: no last error)
            connected = True
        except Exception:
            connected = False
        if connected:
            raise WSAError(WSAEISCONN, "SO_SECURE must be set before connect")
        from ws2 import rehome

        rehome.rehome(s, chain)
    except Exception as e:
        raise fail(e)
    return call(s, _WSP_SETSOCKOPT, _SOL_SOCKET, _SO_SECURE, value)


def getopt(s):
    """getsockopt(s, SOL_SOCKET, SO_SECURE): SO_SEC_NONE for a plain socket that could be made secure."""
    if _tls_chain(s) is None:
        return call(s, _WSP_GETSOCKOPT, _SOL_SOCKET, _SO_SECURE)
    return _SO_SEC_NONE
