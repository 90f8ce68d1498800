# ws2/compat_ssl: the drop-in `ssl` (micropython-lib's API) over ws2.compat_tls.
# MIT licence; part of ws2 for MicroPython.
from ws2 import compat_tls
from ws2.compat_tls import CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER

_WS2_DROPIN = True


class SSLContext(compat_tls.SSLContext):
    """micropython-lib's ssl.SSLContext: verify_mode starts at CERT_NONE."""

    def __init__(self, protocol=PROTOCOL_TLS_CLIENT):
        super().__init__(protocol)
        self.verify_mode = CERT_NONE


def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE, cadata=None,
                server_hostname=None, do_handshake=True):
    """micropython-lib's ssl.wrap_socket: a context made from the arguments, then its wrap_socket."""
    ctx = SSLContext(PROTOCOL_TLS_SERVER if server_side else PROTOCOL_TLS_CLIENT)
    if cert is not None or key is not None:
        ctx.load_cert_chain(cert, key)
    if cadata is not None:
        ctx.load_verify_locations(cadata=cadata)
    ctx.verify_mode = cert_reqs
    return ctx.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=do_handshake,
                           server_hostname=server_hostname)
