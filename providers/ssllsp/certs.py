# providers/ssllsp/certs: certificates, CA bundles, the TLS context of a handshake and the validation hook.
# MIT licence; part of ws2 for MicroPython.
#
# Secure by default, beyond CE: the peer's chain is checked against the CA
# bundle in ws2.config(tls_ca_file=...) (or SO_SSL_SET_CA_CERTS) and against
# the peer name; with no bundle a secure connect fails before any packet is
# sent. The validation hook (SO_SSL_SET_VALIDATE_CERT_HOOK) is asked with the
# DER chain, leaf first; with SSL_FLAG_HOOK_DECIDES it is the only judge.
import sys

from ws2.errors import WSAError, WSAEINVAL, WSAEOPNOTSUPP
from ws2.port import const

_SSL_FLAG_SERVER = const(2)
_SSL_FLAG_HOOK_DECIDES = const(0x10000)
_SSL_ERR_OKAY = const(0)
_SSL_CERT_FLAG_ISSUER_UNKNOWN = const(1)
_X509_FATAL = const(-0x3000)  # MBEDTLS_ERR_X509_FATAL_ERROR: how the verify callback refuses a chain
_MICROPYTHON = sys.implementation.name == "micropython"

_HOOK_OK = const(0x80)

def tlsmod():
    """The port's TLS module: tls on MicroPython >= 1.23 (ssl on 1.22), ssl on CPython."""
    try:
        if _MICROPYTHON:
            try:  # the port's modules, even after ws2.compat.install()
                from ws2.native import tls as m
            except ImportError:
                from ws2.native import ssl as m
        else:
            from ws2.native import ssl as m
    except ImportError:
        raise WSAError(WSAEOPNOTSUPP, "this firmware has no ssl/tls module, so no TLS")
    return m


def _read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise WSAError(WSAEINVAL, "ssllsp: cannot read the %s %r: %s" % (what, path, e))


def der(data, label):
    """DER blocks of PEM text whose label ends with label (b"CERTIFICATE", b"PRIVATE KEY"); DER passes as is."""
    if b"-----BEGIN " not in data:
        return [bytes(data)]
    from binascii import a2b_base64

    out = []
    i = 0
    while True:
        i = data.find(b"-----BEGIN ", i)
        j = data.find(b"-----", i + 11) if i >= 0 else -1
        k = data.find(b"-----END", j) if j >= 0 else -1
        if k < 0:
            return out
        if data[i + 11 : j].endswith(label):
            out.append(a2b_base64(data[j + 5 : k]))
        i = k + 8


def _ca_ders(c, required):
    if c.ca:
        return c.ca
    from ws2 import settings

    path = settings.get("tls_ca_file")
    if not path:
        if not required:
            return []
        raise WSAError(WSAEINVAL, "ssllsp: no CA bundle to check the server with: set ws2.config(tls_ca_file=...) "
                       "to a PEM file on the board (or let a hook decide with SSL_FLAG_HOOK_DECIDES)")
    ders = der(_read_file(path, "CA bundle"), b"CERTIFICATE")
    if not ders:
        raise WSAError(WSAEINVAL, "ssllsp: the CA bundle %r holds no certificate" % path)
    return ders


def context(c):
    """Build the TLS context of c's next handshake; configuration errors surface here, before any I/O."""
    m = tlsmod()
    server = c.sslf & _SSL_FLAG_SERVER
    if server and c.srv is not None:
        return c.srv
    ctx = m.SSLContext(m.PROTOCOL_TLS_SERVER if server else m.PROTOCOL_TLS_CLIENT)
    if server:
        if c.cert is None:
            raise WSAError(WSAEINVAL, "ssllsp: a TLS server needs WSAIoctl(s, SO_SSL_SET_SERVER_CERT, (cert, key))")
        cert, key = c.cert
        try:
            if _MICROPYTHON:
                if isinstance(cert, str):
                    cert = _read_file(cert, "server certificate")
                if isinstance(key, str):
                    key = _read_file(key, "server key")
                ctx.load_cert_chain(der(cert, b"CERTIFICATE")[0], der(key, b"PRIVATE KEY")[0])
                ctx.verify_mode = m.CERT_NONE
            else:
                _cpy_cert_chain(ctx, cert, key)
        except (ValueError, IndexError, OSError) as e:
            raise WSAError(WSAEINVAL, "ssllsp: the server certificate or key cannot be used: %r" % (e,))
        return ctx
    decides = c.sslf & _SSL_FLAG_HOOK_DECIDES
    if decides and c.hook is None:
        raise WSAError(WSAEINVAL, "ssllsp: SSL_FLAG_HOOK_DECIDES needs SO_SSL_SET_VALIDATE_CERT_HOOK")
    ders = _ca_ders(c, not decides)
    try:
        if _MICROPYTHON:
            for d in ders:
                ctx.load_verify_locations(d)
            # OPTIONAL still runs the verify callback (NONE would skip it) but leaves the verdict to the hook.
            ctx.verify_mode = m.CERT_OPTIONAL if decides else m.CERT_REQUIRED
            if c.hook is not None:
                try:
                    ctx.verify_callback = lambda cert, depth: _verify(c, cert, depth)
                except AttributeError:
                    raise WSAError(WSAEOPNOTSUPP, "ssllsp: this firmware's tls module has no verify_callback")
        elif decides:
            ctx.check_hostname = False
            ctx.verify_mode = m.CERT_NONE
        else:
            ctx.load_verify_locations(cadata=b"".join(ders))
    except ValueError as e:
        raise WSAError(WSAEINVAL, "ssllsp: the CA bundle cannot be used: %s" % (e,))
    return ctx


def _cpy_cert_chain(ctx, cert, key):
    # CPython loads certificates from files only: data goes through a temporary file.
    import os
    import tempfile

    made = []
    try:
        names = []
        for v in (cert, key):
            if isinstance(v, str):
                names.append(v)
                continue
            fd, name = tempfile.mkstemp(suffix=".pem")
            made.append(name)
            with os.fdopen(fd, "wb") as f:
                f.write(v)
            names.append(name)
        ctx.load_cert_chain(names[0], names[1])
    finally:
        for name in made:
            os.remove(name)


def _verify(c, cert, depth):
    # mbedTLS calls this for each certificate of the chain, from the top down to
    # the peer's own (depth 0): gather them, then ask the hook. Never raises.
    try:
        if c.chain is None:
            c.chain = []
        c.chain.insert(0, bytes(cert))
        if depth:
            return 0
        chain = c.chain
        c.chain = None
        return ask_hook(c, chain)
    except Exception as e:
        c.why = "the validation hook failed: %r" % (e,)
        return _X509_FATAL


def ask_hook(c, chain):
    """Ask c's validation hook about chain (DER, leaf first): 0 if it accepts, else an mbedTLS refusal."""
    flags = _SSL_CERT_FLAG_ISSUER_UNKNOWN if c.sslf & _SSL_FLAG_HOOK_DECIDES else 0
    try:
        r = c.hook(chain, flags)
    except Exception as e:
        c.why = "the validation hook raised %r" % (e,)
        return _X509_FATAL
    if r == _SSL_ERR_OKAY:
        c.state |= _HOOK_OK
        return 0
    c.why = "the validation hook refused the certificate (SSL_ERR %r)" % (r,)
    return _X509_FATAL
