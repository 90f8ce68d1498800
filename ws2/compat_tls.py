# ws2/compat_tls: the drop-in `tls`: TLS on a drop-in socket through the catalog's TLS provider.
# MIT licence; part of ws2 for MicroPython.
#
# Clients turn TLS on after connect (docs/compat.md). wrap_socket on a drop-in
# socket moves it onto the catalog's TLS chain over its entry (the chain with
# security scheme SECURITY_PROTOCOL_SSL, ssllsp's in the default catalog) the
# way setsockopt(SO_SECURE) does before connect: ws2/rehome. The socket keeps
# its object, its handle and its connection, which becomes the TLS provider's
# lower socket, so the ciphertext still goes down through whatever layers the
# socket had. The TLS options become the provider's own ioctls (peer name,
# CAs, server certificate, validation hook, handshake). A socket that is not a
# drop-in is wrapped by the port's own module.
import sys

from ws2 import compat, sockctrl
from ws2.dispatch import call
from ws2.errors import WSAError

from ws2.port import const


_WSP_SETSOCKOPT = const(26)
_SOL_SOCKET = const(0xFFFF)
_SO_SECURE = const(0x2001)
_SO_SEC_SSL = const(0x2004)
_SECURITY_PROTOCOL_SSL = const(1)
_FIONBIO = const(0x8004667E)
_SO_SSL_SET_FLAGS = const(0x90730002)
_SO_SSL_SET_VALIDATE_CERT_HOOK = const(0x90730008)
_SO_SSL_PERFORM_HANDSHAKE = const(0x1073000D)
_SO_SSL_SET_PEERNAME = const(0x9073000F)
_SO_SSL_SET_SERVER_CERT = const(0x90730010)
_SO_SSL_SET_CA_CERTS = const(0x90730011)
_SSL_FLAG_SERVER = const(2)
_SSL_FLAG_HOOK_DECIDES = const(0x10000)
_WSAEACCES = const(10013)
_WSAEOPNOTSUPP = const(10045)
_MP = sys.implementation.name == "micropython"
_WS2_DROPIN = True

PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2


def _port_tls():
    # The port's TLS module (tls on MicroPython >= 1.23, else ssl; ssl on CPython).
    from ws2 import native

    if _MP:
        try:
            return native.tls
        except AttributeError:
            pass
    return native.ssl


def _okay(chain, flags):
    return 0  # SSL_ERR_OKAY: the application asked for CERT_NONE


class SSLContext:
    """A TLS context: verify_mode, load_verify_locations, load_cert_chain, wrap_socket."""

    def __init__(self, protocol=PROTOCOL_TLS_CLIENT):
        if protocol not in (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER):
            raise ValueError("invalid protocol")
        self.protocol = protocol
        # The tls module's defaults: a client verifies, a server does not ask for client certificates.
        self.verify_mode = CERT_REQUIRED if protocol == PROTOCOL_TLS_CLIENT else CERT_NONE
        self.verify_callback = None
        self._ca = None
        self._cert = None

    def load_verify_locations(self, cafile=None, cadata=None):
        """Trust these CAs (PEM or DER bytes, or a file of them) instead of the board's tls_ca_file."""
        if cafile is not None:
            with open(cafile, "rb") as f:
                cadata = f.read()
        if isinstance(cadata, str):
            cadata = cadata.encode()
        if not isinstance(cadata, (bytes, bytearray)) or not cadata:
            raise TypeError("cadata must be bytes")
        self._ca = (self._ca or b"") + bytes(cadata)

    def load_cert_chain(self, certfile, keyfile=None):
        """This side's certificate and key (PEM or DER bytes, or file paths)."""
        if keyfile is None:
            keyfile = certfile
        self._cert = (certfile, keyfile)

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        """TLS on sock: through the catalog's TLS provider for a drop-in socket, else the port's module."""
        if not isinstance(sock, compat.socket):
            return self._port_wrap(sock, server_side, do_handshake_on_connect, server_hostname)
        if server_side and self._cert is None:
            raise ValueError("server_side needs load_cert_chain")
        from ws2 import settings

        mode = self.verify_mode
        if settings.get("tls_verify") == "always":
            mode = CERT_REQUIRED  # the board's policy outranks what the application asked for
        try:
            h = _rehome(sock)
            opts = []
            if server_side:
                opts.append((_SO_SSL_SET_FLAGS, _SSL_FLAG_SERVER))
                opts.append((_SO_SSL_SET_SERVER_CERT, self._cert))
            else:
                if mode != CERT_REQUIRED:
                    opts.append((_SO_SSL_SET_FLAGS, _SSL_FLAG_HOOK_DECIDES))
                    opts.append((_SO_SSL_SET_VALIDATE_CERT_HOOK, _okay))
                elif self._ca:
                    opts.append((_SO_SSL_SET_CA_CERTS, self._ca))
                if server_hostname:
                    opts.append((_SO_SSL_SET_PEERNAME, server_hostname))
            _handshake(sock, h, opts, do_handshake_on_connect)
        except WSAError as e:
            sock.close()
            raise _tls_error(e)
        return sock

    def _port_wrap(self, sock, server_side, handshake, host):
        # Not a drop-in socket: the port's own TLS, configured as this context says.
        m = _port_tls()
        ctx = m.SSLContext(m.PROTOCOL_TLS_SERVER if server_side else m.PROTOCOL_TLS_CLIENT)
        if not _MP and not server_side and self.verify_mode == CERT_NONE:
            ctx.check_hostname = False
        if self._ca:
            if _MP:
                from providers.ssllsp.certs import der  # PEM text as mbedTLS takes it: one DER block at a time

                for d in der(self._ca, b"CERTIFICATE"):
                    ctx.load_verify_locations(d)  # (positional only there)
            else:
                ctx.load_verify_locations(cadata=self._ca.decode() if b"-----BEGIN" in self._ca else self._ca)
        if self._cert is not None:
            ctx.load_cert_chain(*self._cert)
        ctx.verify_mode = self.verify_mode
        return ctx.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=handshake,
                               server_hostname=host)


def _rehome(sock):
    """Move a connected drop-in socket onto the catalog's TLS chain over its entry (ws2/rehome); SO_SECURE on."""
    from ws2 import handles, rehome

    h = sock._live()
    entry = handles.entry[handles.slot(h)]
    # The TLS chain over the socket's own chain, else (a layered socket) over its base entry: the socket's
    # layers then stay below TLS and see the records.
    chain = rehome.chain_over(entry, _SECURITY_PROTOCOL_SSL) or \
        rehome.chain_over(rehome.base_of(entry), _SECURITY_PROTOCOL_SSL)
    if chain is None:
        raise WSAError(_WSAEOPNOTSUPP, "no TLS provider is installed over catalog entry %d" % entry)
    sock._slow()  # every byte goes through the TLS provider from now on
    sock._tls = True
    try:
        rehome.rehome(h, chain, True)  # the handle stays the socket's; the TLS layer takes the connection from here
    finally:
        # Once per connection, and the TLS handshake that follows needs the heap: the router
        # forgets the module (as it releases a provider) until the next move.
        from ws2.provider import drop_module

        drop_module("ws2.rehome")
    call(h, _WSP_SETSOCKOPT, _SOL_SOCKET, _SO_SECURE, _SO_SEC_SSL)  # straight to the layer (ws2.secure is for plain sockets)
    return h


def _handshake(sock, h, opts, now):
    for code, arg in opts:
        sockctrl.WSAIoctl(h, code, arg)
    nb = sock._t == 0
    if nb or not now:
        # Non-blocking (or deferred): the provider starts the session, the reads and writes finish it.
        sockctrl.ioctlsocket(h, _FIONBIO, 1)
    sockctrl.WSAIoctl(h, _SO_SSL_PERFORM_HANDSHAKE, None)
    if not nb and not now:
        sockctrl.ioctlsocket(h, _FIONBIO, 0)


def _tls_error(e):
    # What the port's TLS says for a rejected certificate; other failures as socket errors.
    if e.args[0] == _WSAEACCES:
        if _MP:
            return OSError(-0x2700, "certificate verification failed")  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
        return _port_tls().SSLCertVerificationError(1, str(e))
    return compat._oserror(e)
