# providers/ssllsp/options: the SO_SSL_* ioctls of Windows CE's sslsock.h (values in ws2/tlsconst.py; docs/spi.md).
# MIT licence; part of ws2 for MicroPython. Loaded with the first SO_SSL ioctl.
from providers.ssllsp.conn import start
from ws2.errors import WSAError, WSAEINVAL, WSAEISCONN, WSAENOTCONN, WSAEOPNOTSUPP
from ws2.port import const

_SO_SSL_GET_CAPABILITIES = const(0x50730001)
_SO_SSL_GET_FLAGS = const(0x50730002)
_SO_SSL_SET_FLAGS = const(0x90730002)
_SO_SSL_GET_VALIDATE_CERT_HOOK = const(0x50730008)
_SO_SSL_SET_VALIDATE_CERT_HOOK = const(0x90730008)
_SO_SSL_PERFORM_HANDSHAKE = const(0x1073000D)
_SO_SSL_GET_CONNECTION_INFO = const(0x5073000E)
_SO_SSL_SET_PEERNAME = const(0x9073000F)
_SO_SSL_SET_SERVER_CERT = const(0x90730010)
_SO_SSL_SET_CA_CERTS = const(0x90730011)  # ws2 extension (no CE code): this socket's trusted CAs, PEM or DER
_SSL_CAPS = const(3)  # SSL_CAP_CLIENT | SSL_CAP_SERVER
_SSL_FLAG_SERVER = const(2)
_SSL_FLAG_AUTH_CLIENT = const(4)
_SSL_KNOWN_FLAGS = const(0x1000A)
_CE_CODES = const(0x0B)  # the low byte of the last SO_SSL code Windows CE defines

_SECURE = const(0x01)
_CONNECTED = const(0x02)
_STARTED = const(0x08)
_DONE = const(0x10)
_NONBLOCK = const(0x20)

def _in_str(v, what):
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode()
    if not isinstance(v, str) or not v or "\x00" in v:
        raise WSAError(WSAEINVAL, "%s must be a non-empty str, not %r" % (what, v))
    return v


def ssl_ioctl(c, code, arg):
    """WSAIoctl(SO_SSL_*) on c: get or set a TLS option, or run the deferred handshake."""
    if code == _SO_SSL_GET_CAPABILITIES:
        return _SSL_CAPS
    if code == _SO_SSL_GET_FLAGS:
        return c.sslf
    if code == _SO_SSL_GET_VALIDATE_CERT_HOOK:
        return c.hook
    if code not in (_SO_SSL_SET_FLAGS, _SO_SSL_SET_VALIDATE_CERT_HOOK, _SO_SSL_SET_PEERNAME,
                    _SO_SSL_SET_SERVER_CERT, _SO_SSL_PERFORM_HANDSHAKE, _SO_SSL_GET_CONNECTION_INFO,
                    _SO_SSL_SET_CA_CERTS):
        if code & 0xFF <= _CE_CODES:
            raise WSAError(WSAEOPNOTSUPP, "SO_SSL ioctl 0x%08x is not supported by ssllsp" % code)
        raise WSAError(WSAEINVAL, "unknown SO_SSL ioctl 0x%08x" % code)
    if not c.state & _SECURE:
        raise WSAError(WSAEINVAL, "not a secure socket: setsockopt(s, SOL_SOCKET, SO_SECURE, SO_SEC_SSL) first")
    if code == _SO_SSL_GET_CONNECTION_INFO:
        if not c.state & _DONE:
            raise WSAError(WSAENOTCONN, "the TLS handshake has not completed")
        return _connection_info(c)
    if c.state & _STARTED:
        raise WSAError(WSAEISCONN, "the TLS handshake has started: set SSL options before it")
    if code == _SO_SSL_PERFORM_HANDSHAKE:
        if not c.state & _CONNECTED:
            raise WSAError(WSAENOTCONN, "SO_SSL_PERFORM_HANDSHAKE needs a connected socket")
        if arg is not None:
            c.peer = _in_str(arg, "the server name")
        from providers.ssllsp.certs import context

        start(c, context(c), not c.state & _NONBLOCK)
        return None
    if code == _SO_SSL_SET_FLAGS:
        if not isinstance(arg, int) or arg & ~_SSL_KNOWN_FLAGS:
            if isinstance(arg, int) and arg & _SSL_FLAG_AUTH_CLIENT:
                raise WSAError(WSAEOPNOTSUPP, "ssllsp does not authenticate clients (SSL_FLAG_AUTH_CLIENT)")
            raise WSAError(WSAEINVAL, "unknown SSL flags %r" % (arg,))
        c.sslf = arg
    elif code == _SO_SSL_SET_VALIDATE_CERT_HOOK:
        if arg is not None and not callable(arg):
            raise WSAError(WSAEINVAL, "the validation hook must be callable(chain, flags) or None")
        c.hook = arg
    elif code == _SO_SSL_SET_PEERNAME:
        c.peer = _in_str(arg, "the peer name")
    elif code == _SO_SSL_SET_CA_CERTS:
        from providers.ssllsp.certs import der

        ders = der(bytes(arg), b"CERTIFICATE") if isinstance(arg, (bytes, bytearray)) and arg else None
        if not ders:
            raise WSAError(WSAEINVAL, "SO_SSL_SET_CA_CERTS takes PEM or DER certificate bytes")
        c.ca = ders
    else:
        if not isinstance(arg, (tuple, list)) or len(arg) != 2 or \
                not all(isinstance(v, (str, bytes, bytearray)) for v in arg):
            raise WSAError(WSAEINVAL, "SO_SSL_SET_SERVER_CERT takes (certificate, key): file paths or PEM/DER bytes")
        c.cert = (arg[0], arg[1])
        c.srv = None
    return None


def _connection_info(c):
    # (SSLCONNECTIONINFO.dwProtocol, cipher suite name, protocol version name)
    cipher, version = c.eng.info()
    bits = {"TLSv1": 0x80, "TLSv1.1": 0x200, "TLSv1.2": 0x800, "TLSv1.3": 0x2000}.get(version, 0)
    if c.sslf & _SSL_FLAG_SERVER:
        bits >>= 1
    return bits, cipher, version
