# providers/ssllsp: TLS as a layered provider, switched on the Windows CE way (SO_SECURE, SO_SSL_* ioctls).
# MIT licence; part of ws2 for MicroPython. Named after Windows CE's ssllsp.dll.
#
# A chain entry (this layer, ..., a TCP base entry) puts ssllsp between the
# router and the provider below; until setsockopt(SO_SECURE, SO_SEC_SSL) a
# socket is passed straight through. The TLS engine is the port's own:
# mbedTLS through MicroPython's `tls` module (`ssl` before 1.23), OpenSSL
# through CPython's `ssl` (SSLObject over memory BIOs). Neither talks to the
# network: every ciphertext byte moves through the lower provider's proc
# table, so a second layer below sees (and may count) the TLS records.
#
# Secure by default, beyond CE: the peer's chain is checked against the CA
# bundle in ws2.config(tls_ca_file=...) and against the peer name
# (SO_SSL_SET_PEERNAME, else the host the socket connects to); with no bundle
# a secure connect fails before any packet is sent. A validation hook
# (SO_SSL_SET_VALIDATE_CERT_HOOK) adds checks: hook(chain, flags) with the DER
# chain leaf first, flags 0, and only SSL_ERR_OKAY lets the connection on.
# To accept what the bundle would reject (a pinned self-signed server) the
# application says so with SSL_FLAG_HOOK_DECIDES: the hook then is the only
# judge and gets SSL_CERT_FLAG_ISSUER_UNKNOWN (neither mbedTLS through
# MicroPython nor CPython can report the bundle's verdict and still finish
# the handshake, so "unvalidated" is what the hook is told).
#
# Blocking sockets handshake inside connect/accept/SO_SSL_PERFORM_HANDSHAKE.
# Non-blocking ones start the handshake there and finish it in the send/recv
# calls that follow (WSAEWOULDBLOCK meanwhile), as MicroPython's asyncio does:
# mbedTLS through MicroPython reports no "handshake done" apart from the
# first record that goes through. Ciphertext a non-blocking lower socket
# cannot take waits in a small outbox; decrypted bytes read ahead (MSG_PEEK,
# select) wait in a stash, so FD_READ means decrypted data is there.
import sys

from ws2.errors import (WSAError, WSAEACCES, WSAECONNABORTED, WSAECONNRESET, WSAEINVAL, WSAEISCONN,
                        WSAENOBUFS, WSAENOTCONN, WSAEOPNOTSUPP, WSAEPROVIDERFAILEDINIT,
                        WSAESOCKTNOSUPPORT, WSAEWOULDBLOCK, WSANOTINITIALISED, wsa_code)

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_WSP_ACCEPT = const(0)
_WSP_ADDRESSTOSTRING = const(1)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_GETPEERNAME = const(12)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_LISTEN = const(18)
_WSP_RECV = const(19)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SETSOCKOPT = const(26)
_WSP_SOCKET = const(28)
_WSP_STRINGTOADDRESS = const(29)
_SOCK_STREAM = const(1)
_FROM_PROTOCOL_INFO = const(-1)
_SOL_SOCKET = const(0xFFFF)
_SO_ERROR = const(0x1007)
_SO_SECURE = const(0x2001)
_SO_SEC_NONE = const(0x2002)
_SO_SEC_SSL = const(0x2004)
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_MSG_OOB = const(0x1)
_MSG_PEEK = const(0x2)
_MSG_WAITALL = const(0x8)
_MSG_DONTWAIT = const(0x40)
# sslsock.h (values in ws2/tlsconst.py; docs/spi.md)
_SSL_FAMILY_MASK = const(0x1FFF0000)
_SO_SSL = const(0x10730000)
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
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)  # ws2's own (ws2/rehome)
_SSL_CAPS = const(3)  # SSL_CAP_CLIENT | SSL_CAP_SERVER
_SSL_FLAG_SERVER = const(2)
_SSL_FLAG_AUTH_CLIENT = const(4)
_SSL_FLAG_DEFER_HANDSHAKE = const(8)
_SSL_FLAG_HOOK_DECIDES = const(0x10000)
_SSL_KNOWN_FLAGS = const(0x1000A)
_SSL_ERR_OKAY = const(0)
_SSL_CERT_FLAG_ISSUER_UNKNOWN = const(1)
# state bits of a _Tls
_SECURE = const(0x01)  # SO_SECURE is SO_SEC_SSL
_CONNECTED = const(0x02)
_LISTENING = const(0x04)
_STARTED = const(0x08)  # the TLS engine exists: SSL options are locked
_DONE = const(0x10)  # the handshake has completed
_NONBLOCK = const(0x20)
_DEAD = const(0x40)  # the TLS session failed; the lower socket is closed
_HOOK_OK = const(0x80)  # the validation hook accepted the chain of this handshake
_WANT_IN = const(0x100)  # the unfinished handshake waits for the peer
_X509_FATAL = const(-0x3000)  # MBEDTLS_ERR_X509_FATAL_ERROR: how the verify callback refuses a chain
_INBOX = const(32)  # bytes a blocking wait reads ahead for mbedTLS (it then reads the rest itself)
_PIPE_READ = const(2048)  # at most this much per lower read: a lower recv(n) may allocate n bytes
_STASH = const(512)  # decrypted bytes a peek/select reads ahead
_MAX_RECV = const(16384)  # one TLS record: a bigger recv(n) returns what one record holds
_NB_CHUNK = const(4096)  # plaintext per non-blocking send, so the outbox stays small
_VERSION = const(0x0202)
_MICROPYTHON = sys.implementation.name == "micropython"

_upcalls = None
_starts = 0


class _Tls:
    """Provider context of one socket: the lower socket, TLS options and, once started, the engine."""

    def __init__(self, table, lower_handle, entry_id):
        self.lt = table  # the lower provider's proc table
        self.lc = _upcalls.WPUQuerySocketHandleContext(lower_handle)  # and its context of our lower socket
        self.entry = entry_id
        self.handle = 0
        self.state = 0
        self.sslf = 0  # SO_SSL_SET_FLAGS
        self.peer = None  # SO_SSL_SET_PEERNAME, else the host connected to
        self.host = None
        self.hook = None
        self.cert = None  # (certificate, key) of a server
        self.srv = None  # a listening socket's server context, shared by the sockets it accepts
        self.eng = None
        self.out = None  # ciphertext waiting for a non-blocking lower socket (bytearray)
        self.stash = None  # decrypted bytes read ahead (bytes)
        self.err = None  # a lower failure seen inside the TLS engine
        self.why = None  # why the validation hook refused
        self.chain = None  # DER chain gathered for the hook
        self.fail = None  # (code, reason) once the session is dead
        self.ca = None  # DER CAs of SO_SSL_SET_CA_CERTS, used instead of the tls_ca_file bundle


# -- lower provider ------------------------------------------------------------------------

def _lower_of(info):
    # The next provider down the chain and the protocol info to hand it (see example_lsp.lower_of).
    chain = info.protocol_chain
    if len(chain) < 2:
        raise WSAError(WSAEINVAL, "ssllsp is used through a protocol chain; entry %d has none" % info.catalog_entry_id)
    from ws2 import catalog, provider
    from ws2.protocol_info import from_tuple

    nxt = chain[1]
    e = catalog.by_id(nxt)
    if e is None or (len(e[catalog.I_CHAIN]) == 1) != (len(chain) == 2):
        raise WSAError(WSAEPROVIDERFAILEDINIT, "protocol chain %r of catalog entry %d is broken: entry %d is %s"
                       % (chain, info.catalog_entry_id, nxt, "no longer installed" if e is None else
                          "not the kind of entry the chain needs there"))
    down = from_tuple(info.to_tuple())
    down.catalog_entry_id = nxt
    down.protocol_chain = chain[1:]
    return provider.for_entry(e).table, down


def _lrecv(c, buf, dontwait):
    # Receive ciphertext into buf from the lower socket: a count (0 = closed), None = would block.
    try:
        return c.lt[_WSP_RECV](c.lc, buf, _MSG_DONTWAIT if dontwait else 0, None, None, None)[0]
    except WSAError as e:
        if e.args[0] == WSAEWOULDBLOCK:
            return None
        raise


def _flush(c, block):
    # Send what waits in the outbox; a blocking flush sends it all.
    out = c.out
    while out:
        try:
            n = c.lt[_WSP_SEND](c.lc, out, 0 if block else _MSG_DONTWAIT, None, None, None)
        except WSAError as e:
            if e.args[0] != WSAEWOULDBLOCK or block:
                raise
            n = 0
        if not n:
            if not block:
                c.out = out
                return
            continue
        out = out[n:]  # MicroPython's bytearray has no slice deletion
    c.out = None


def _emit(c, data, block):
    # Ciphertext from the engine: straight down when the lower socket takes it, else into the outbox.
    if not c.out:
        n = 0
        try:
            n = c.lt[_WSP_SEND](c.lc, data, 0 if block else _MSG_DONTWAIT, None, None, None)
        except WSAError as e:
            if e.args[0] != WSAEWOULDBLOCK or block:
                raise
        if n >= len(data):
            return
        data = memoryview(data)[n:]
        c.out = bytearray()
    c.out.extend(data)
    if block:
        _flush(c, True)


# -- the TLS engines ------------------------------------------------------------------------

if _MICROPYTHON:
    import io

    class _Pipe(io.IOBase):
        """The stream mbedTLS reads and writes: the lower socket through its proc table."""

        def __init__(self, c):
            self.c = c
            self.block = False  # True while a blocking handshake runs inside wrap_socket
            self.inbox = None
            self.i0 = 0
            self.i1 = 0
            self.eof = False

        def readinto(self, buf):
            try:
                if self.i1 > self.i0:
                    n = min(len(buf), self.i1 - self.i0)
                    buf[:n] = memoryview(self.inbox)[self.i0 : self.i0 + n]
                    self.i0 += n
                    return n
                if self.eof:
                    return 0
                # Outside a blocking handshake mbedTLS only takes what is there:
                # a blocking read here would wait for bytes the peer never sends.
                n = _lrecv(self.c, memoryview(buf)[:_PIPE_READ], not self.block)
                if n == 0:
                    self.eof = True
                return n
            except Exception as e:
                # Never let an exception unwind through mbedTLS; ssllsp raises it afterwards.
                self.c.err = e
                return -5

        def write(self, buf):
            try:
                _emit(self.c, buf, self.block or not self.c.state & _NONBLOCK)
                return len(buf)
            except Exception as e:
                self.c.err = e
                return -5

        def ioctl(self, req, arg):
            return 0 if req == 4 else -22  # CLOSE: ssllsp closes the lower socket itself

        def wait(self):
            # Block until the lower socket has input, and keep it for mbedTLS.
            if self.inbox is None:
                self.inbox = bytearray(_INBOX)
            n = _lrecv(self.c, memoryview(self.inbox), False)
            self.i0 = 0
            self.i1 = n or 0
            if not n:
                self.eof = True

    class _Engine:
        """mbedTLS through MicroPython's tls module, over a _Pipe."""

        def __init__(self, c, ctx, server, host, block):
            self.pipe = _Pipe(c)
            self.pipe.block = block
            try:
                self.s = ctx.wrap_socket(self.pipe, server_side=bool(server), do_handshake_on_connect=block,
                                         server_hostname=host)
            finally:
                self.pipe.block = False
            self.done = block

        def shake(self, c, buf):
            return 0  # wrap_socket has done it

        def read(self, c, buf):
            return self.s.readinto(buf)

        def write(self, c, buf):
            return self.s.write(buf)

        def feed(self, c):
            return False  # the pipe already read whatever was there

        def wait(self, c):
            self.pipe.wait()

        def eof(self):
            return self.pipe.eof

        def info(self):
            return self.s.cipher()

        def chain(self):
            return None

        def close(self, c, graceful):
            self.s.close()  # no close_notify: MicroPython's tls module cannot send one

else:

    class _Engine:
        """OpenSSL through CPython's ssl module: an SSLObject over memory BIOs."""

        def __init__(self, c, ctx, server, host, block):
            from ws2.native import ssl  # the port's module, even after ws2.compat.install()

            self.inc = ssl.MemoryBIO()
            self.outb = ssl.MemoryBIO()
            self.o = ctx.wrap_bio(self.inc, self.outb, server_side=bool(server), server_hostname=host)
            self.done = False
            self.buf = bytearray(_MAX_RECV)

        def _run(self, c, fn, buf):
            from ws2.native import ssl

            try:
                if not self.done:
                    self.o.do_handshake()
                    self.done = True
                    if fn is None:
                        return 0
                return fn(buf)
            except ssl.SSLWantReadError:
                return None
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                if not self.done:
                    raise
                return 0
            finally:
                data = self.outb.read()
                if data:
                    _emit(c, data, not c.state & _NONBLOCK)

        def read(self, c, buf):
            return self._run(c, self._read, buf)

        def _read(self, buf):
            return self.o.read(len(buf), buf) if len(buf) else 0

        def write(self, c, buf):
            return self._run(c, self.o.write, buf)

        def shake(self, c, buf):
            return self._run(c, None, buf)

        def feed(self, c):
            n = _lrecv(c, memoryview(self.buf), True)
            if n is None:
                return False
            self._put(n)
            return True

        def wait(self, c):
            self._put(_lrecv(c, memoryview(self.buf), False))

        def _put(self, n):
            if n:
                self.inc.write(memoryview(self.buf)[:n])
            else:
                self.inc.write_eof()

        def eof(self):
            return self.inc.eof

        def info(self):
            return self.o.cipher()[0], self.o.version()

        def chain(self):
            der = self.o.getpeercert(True)
            return [der] if der else []

        def close(self, c, graceful):
            if self.done and graceful:
                try:
                    self.o.unwrap()  # queue close_notify
                except Exception:
                    pass
                data = self.outb.read()
                if data and not c.out:
                    try:
                        c.lt[_WSP_SEND](c.lc, data, _MSG_DONTWAIT, None, None, None)
                    except Exception:
                        pass  # best effort: the socket closes anyway


def _tlsmod():
    # MicroPython >= 1.23: tls (its ssl wrapper defaults to CERT_NONE); 1.22: the ssl C module; CPython: ssl.
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


def _der(data, label):
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
    ders = _der(_read_file(path, "CA bundle"), b"CERTIFICATE")
    if not ders:
        raise WSAError(WSAEINVAL, "ssllsp: the CA bundle %r holds no certificate" % path)
    return ders


def _context(c):
    """Build the TLS context of c's next handshake; configuration errors surface here, before any I/O."""
    m = _tlsmod()
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
                ctx.load_cert_chain(_der(cert, b"CERTIFICATE")[0], _der(key, b"PRIVATE KEY")[0])
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
        return _ask_hook(c, chain)
    except Exception as e:
        c.why = "the validation hook failed: %r" % (e,)
        return _X509_FATAL


def _ask_hook(c, chain):
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


def _done(c):
    # The first moment the handshake is known to be over.
    c.state = (c.state | _DONE) & ~_WANT_IN
    if c.hook is not None and not c.state & _HOOK_OK and not c.sslf & _SSL_FLAG_SERVER:
        chain = c.eng.chain()
        if chain is None or _ask_hook(c, chain):  # mbedTLS never asked it, or CPython's hook said no
            if c.why is None:
                c.why = "the validation hook was never consulted"
            raise WSAError(WSAEACCES, "ssllsp: " + c.why)


def _start(c, ctx, block):
    """Create the engine for c's connection; a blocking start runs the whole handshake."""
    c.state |= _STARTED
    c.err = c.why = c.chain = None
    server = c.sslf & _SSL_FLAG_SERVER
    host = None if server else (c.peer or c.host)
    try:
        c.eng = _Engine(c, ctx, server, host, block)
    except Exception as e:
        raise _fatal(c, e)
    if block:
        _drive(c, 2, None, False)


def _fatal(c, e):
    """Turn a failure of the TLS session into its WSA error, and close the connection under it."""
    if isinstance(e, WSAError) and e.args[0] == WSAEACCES:
        err = e
    elif c.err is not None:
        err = e = c.err
        if not isinstance(e, WSAError):
            err = WSAError(wsa_code(e), "ssllsp: %r" % (e,))
    elif c.why is not None:
        err = WSAError(WSAEACCES, "ssllsp: " + c.why)
    elif isinstance(e, MemoryError) or (isinstance(e, OSError) and e.args and e.args[0] in (12, 105)):
        err = WSAError(WSAENOBUFS, "ssllsp: not enough memory for TLS (%r)" % (e,))
    elif isinstance(e, WSAError):
        err = e
    else:
        text = str(e)
        code = WSAECONNABORTED
        name = type(e).__name__
        if isinstance(e, ValueError) or "CERTIFICATE_VERIFY" in text or name == "SSLCertVerificationError" or \
                (isinstance(e, OSError) and e.args and e.args[0] == -0x2700):
            code = WSAEACCES  # the chain or the name did not pass
        elif "EOF" in name or "EOF" in text or (c.eng is not None and c.eng.eof()):
            code = WSAECONNRESET
        what = "certificate rejected" if code == WSAEACCES else "TLS failed"
        if code == WSAECONNRESET:
            what = "the peer closed the connection during TLS"
        err = WSAError(code, "ssllsp: %s: %s" % (what, text or name))
    _abort(c, err)
    return err


def _abort(c, err):
    c.state = (c.state | _DEAD) & ~_CONNECTED
    c.fail = (err.args[0], err.args[1] if len(err.args) > 1 else "")
    eng, c.eng = c.eng, None
    c.out = c.stash = c.chain = None
    try:
        if eng is not None:
            eng.close(c, False)
    except Exception:
        pass
    lc, c.lc = c.lc, None
    if lc is not None:
        try:
            c.lt[_WSP_CLOSESOCKET](lc)
        except Exception:
            pass


def _drive(c, op, buf, nb):
    """Run engine op (read, write; None = handshake) until it completes, feeding it ciphertext."""
    e = c.eng
    while True:
        if c.out:
            _flush(c, not nb)
        try:
            r = e.write(c, buf) if op == 1 else (e.read(c, buf) if op == 0 else e.shake(c, buf))
            if c.err is not None:  # a lower failure the engine swallowed
                raise c.err
            if r is not None and not c.state & _DONE:
                _done(c)
        except Exception as x:
            if op == 0 and c.state & _DONE and c.err is None and e.eof():
                return 0  # the peer closed without close_notify: an end of stream, as CPython's default
            raise _fatal(c, x)
        if r is not None:
            return r
        if not c.state & _DONE:
            c.state |= _WANT_IN
        if e.feed(c):
            continue
        if nb:
            raise WSAError(WSAEWOULDBLOCK)
        e.wait(c)


def _live(c):
    if c.state & _DEAD:
        raise WSAError(WSAENOTCONN, "the TLS connection failed: %s" % (c.fail[1],))


# -- proc table ---------------------------------------------------------------------------------

def _adopt(table, lower_handle, entry_id):
    try:
        c = _Tls(table, lower_handle, entry_id)
        c.handle = _upcalls.WPUCreateSocketHandle(entry_id, c)
    except BaseException:
        table[_WSP_CLOSESOCKET](_upcalls.WPUQuerySocketHandleContext(lower_handle))
        raise
    return c


def WSPSocket(af, typ, proto, info, group, flags):
    """Create a stream socket below, and ours over it (plain until SO_SECURE)."""
    if typ in (0, _FROM_PROTOCOL_INFO):
        typ = info.socket_type
    if typ != _SOCK_STREAM:
        raise WSAError(WSAESOCKTNOSUPPORT, "ssllsp layers TLS over stream sockets only, not type %d" % typ)
    table, down = _lower_of(info)
    return _adopt(table, table[_WSP_SOCKET](af, typ, proto, down, group, flags), info.catalog_entry_id).handle


def WSPAdoptSocket(lower_handle, info, handle):
    """ws2 re-homing (ws2/rehome): our context, plain until SO_SECURE, over an open TCP socket; it answers to handle."""
    table, down = _lower_of(info)
    c = _Tls(table, lower_handle, info.catalog_entry_id)
    c.handle = handle
    try:
        c.host = table[_WSP_GETPEERNAME](c.lc)[0]  # connected already (the socket drop-in wraps after connect)
        c.state |= _CONNECTED
    except WSAError:
        pass
    return c


def WSPCloseSocket(c):
    """End TLS (close_notify where the engine can send one), close the lower socket, free the handle."""
    try:
        if c.eng is not None:
            try:
                c.eng.close(c, True)
            except Exception:
                pass
            c.eng = None
        if c.lc is not None:
            c.lt[_WSP_CLOSESOCKET](c.lc)
            c.lc = None
    finally:
        _upcalls.WPUCloseSocketHandle(c.handle)
    return 0


def WSPConnect(c, addr, caller_data, callee_data, sqos, gqos):
    """Connect below; a secure socket then handshakes (unless deferred)."""
    _live(c)
    tls = c.state & _SECURE and not c.sslf & _SSL_FLAG_DEFER_HANDSHAKE
    ctx = _context(c) if tls else None  # refuse a bad configuration before any packet goes out
    pending = None
    try:
        c.lt[_WSP_CONNECT](c.lc, addr, caller_data, callee_data, sqos, gqos)
    except WSAError as e:
        if e.args[0] != WSAEWOULDBLOCK:
            raise
        pending = e
    c.state |= _CONNECTED
    c.host = addr[0] if isinstance(addr, tuple) and addr else None
    if tls:
        _start(c, ctx, pending is None)
    if pending is not None:
        raise pending
    return 0


def WSPListen(c, backlog):
    """Listen below; accepted sockets inherit the TLS settings."""
    _live(c)
    if c.state & _SECURE and c.cert is None and not c.sslf & _SSL_FLAG_DEFER_HANDSHAKE:
        raise WSAError(WSAEINVAL, "ssllsp: a TLS server needs WSAIoctl(s, SO_SSL_SET_SERVER_CERT, (cert, key))")
    c.lt[_WSP_LISTEN](c.lc, backlog)
    c.state |= _LISTENING
    return 0


def WSPAccept(c, condition, callback_data):
    """Accept below; on a secure listening socket the new one handshakes as a server (unless deferred)."""
    _live(c)
    lh, addr = c.lt[_WSP_ACCEPT](c.lc, condition, callback_data)
    n = _adopt(c.lt, lh, c.entry)
    n.state = (c.state & (_SECURE | _NONBLOCK)) | _CONNECTED
    n.sslf = c.sslf | _SSL_FLAG_SERVER
    n.cert = c.cert
    n.hook = c.hook
    if n.state & _SECURE and not n.sslf & _SSL_FLAG_DEFER_HANDSHAKE:
        try:
            if c.srv is None:
                c.srv = _context(n)
            n.srv = c.srv
            _start(n, c.srv, not n.state & _NONBLOCK)
        except Exception as e:
            # The client failed its handshake: it never becomes an accepted socket.
            try:
                WSPCloseSocket(n)
            except Exception:
                pass
            if isinstance(e, WSAError) and e.args[0] in (WSAEINVAL, WSAEOPNOTSUPP, WSAENOBUFS):
                raise
            raise WSAError(WSAECONNABORTED, "TLS handshake with %r failed: %s" % (addr, e))
    return n.handle, addr


def _take(c, n, peek):
    s = c.stash
    k = min(n, len(s))
    if not peek:
        c.stash = s[k:] if k < len(s) else None
    return s[:k]


def _fill_stash(c, want, nb):
    # Read ahead up to want decrypted bytes into the stash (WSAEWOULDBLOCK when none come at once).
    have = len(c.stash) if c.stash else 0
    if have < want:
        buf = bytearray(min(max(want - have, _STASH), _MAX_RECV))  # what one record gives, so recv gets it all
        try:
            n = _drive(c, 0, buf, nb)
        except WSAError as e:
            if not have or e.args[0] != WSAEWOULDBLOCK:
                raise
            n = 0  # a peek returns the bytes already read ahead, as a recv would
        if n:
            c.stash = (c.stash or b"") + bytes(memoryview(buf)[:n])


def WSPRecv(c, buffers, flags, ov, cr, tid):
    """Receive (decrypted, once secure); buffers: a writable buffer, a list of them, or an int n."""
    _live(c)
    if c.eng is None:
        return c.lt[_WSP_RECV](c.lc, buffers, flags, ov, cr, tid)
    if flags & ~(_MSG_PEEK | _MSG_DONTWAIT | _MSG_WAITALL) or flags & _MSG_OOB:
        raise WSAError(WSAEOPNOTSUPP, "TLS sockets take MSG_PEEK, MSG_WAITALL and MSG_DONTWAIT only")
    nb = c.state & _NONBLOCK or flags & _MSG_DONTWAIT
    want = buffers if isinstance(buffers, int) else None
    if isinstance(buffers, (list, tuple)):  # scatter: the first buffer with room gets what one call yields
        buffers = [b for b in buffers if len(memoryview(b))][:1] or [bytearray(0)]
        buffers = buffers[0]
    if want is None:
        mv = memoryview(buffers)
        want = len(mv)
    if want < 0:
        raise WSAError(WSAEINVAL, "negative receive size")
    want = min(want, _MAX_RECV) if isinstance(buffers, int) else want
    if flags & _MSG_PEEK or c.stash:
        if flags & _MSG_PEEK and want:
            _fill_stash(c, want, nb)
        data = _take(c, want, flags & _MSG_PEEK) if c.stash else b""
        if isinstance(buffers, int):
            return bytes(data), 0
        mv[: len(data)] = data
        return len(data), 0
    if isinstance(buffers, int):
        buf = bytearray(want)
        n = _drive(c, 0, buf, nb) if want else 0
        return bytes(memoryview(buf)[:n]), 0
    if not want:
        return 0, 0
    n = _drive(c, 0, mv, nb)
    while flags & _MSG_WAITALL and n and n < want:
        k = _drive(c, 0, mv[n:], nb)
        if not k:
            break
        n += k
    return n, 0


def WSPRecvFrom(c, buffers, flags, ov, cr, tid):
    """Stream sockets: recv, with the peer's address."""
    r = WSPRecv(c, buffers, flags, ov, cr, tid)
    return r[0], r[1], c.lt[_WSP_GETPEERNAME](c.lc)


def WSPSend(c, buffers, flags, ov, cr, tid):
    """Send (encrypted, once secure); a blocking send sends everything."""
    _live(c)
    if c.eng is None:
        return c.lt[_WSP_SEND](c.lc, buffers, flags, ov, cr, tid)
    if flags & ~_MSG_DONTWAIT:
        raise WSAError(WSAEOPNOTSUPP, "TLS sockets take MSG_DONTWAIT only")
    if isinstance(buffers, (list, tuple)):
        total = 0
        for b in buffers:
            k = WSPSend(c, b, flags, ov, cr, tid)
            total += k
            if k < len(memoryview(b)):
                break
        return total
    nb = c.state & _NONBLOCK or flags & _MSG_DONTWAIT
    mv = memoryview(buffers)
    if not len(mv):
        return 0
    if nb:
        if c.out:
            _flush(c, False)
            if c.out:
                raise WSAError(WSAEWOULDBLOCK)
        mv = mv[:_NB_CHUNK]
    n = _drive(c, 1, mv, nb)
    if not nb and c.out:
        _flush(c, True)
    return n


def WSPSendTo(c, buffers, flags, addr, ov, cr, tid):
    """Stream sockets: send (the address is ignored)."""
    return WSPSend(c, buffers, flags, ov, cr, tid)


def WSPSetSockOpt(c, level, name, value):
    """SO_SECURE is ours; every other option belongs to the lower socket."""
    _live(c)
    if level != _SOL_SOCKET or name != _SO_SECURE:
        return c.lt[_WSP_SETSOCKOPT](c.lc, level, name, value)
    if value not in (_SO_SEC_SSL, _SO_SEC_NONE):
        raise WSAError(WSAEINVAL, "SO_SECURE takes SO_SEC_SSL or SO_SEC_NONE, not %r" % (value,))
    if c.state & (_CONNECTED | _STARTED):
        raise WSAError(WSAEISCONN, "SO_SECURE must be set before connect")
    if value == _SO_SEC_SSL:
        _tlsmod()
        c.state |= _SECURE
    else:
        c.state &= ~_SECURE
    return 0


def WSPGetSockOpt(c, level, name):
    """SO_SECURE, and SO_ERROR of a failed TLS session, are ours; the rest come from below."""
    if level == _SOL_SOCKET and name == _SO_SECURE:
        return _SO_SEC_SSL if c.state & _SECURE else _SO_SEC_NONE
    if c.lc is None:
        if level == _SOL_SOCKET and name == _SO_ERROR:
            code, c.fail = c.fail[0], (0, c.fail[1])
            return code
        _live(c)
    return c.lt[_WSP_GETSOCKOPT](c.lc, level, name)


def _in_str(v, what):
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode()
    if not isinstance(v, str) or not v or "\x00" in v:
        raise WSAError(WSAEINVAL, "%s must be a non-empty str, not %r" % (what, v))
    return v


def _ssl_ioctl(c, code, arg):
    if code == _SO_SSL_GET_CAPABILITIES:
        return _SSL_CAPS
    if code == _SO_SSL_GET_FLAGS:
        return c.sslf
    if code == _SO_SSL_GET_VALIDATE_CERT_HOOK:
        return c.hook
    if code not in (_SO_SSL_SET_FLAGS, _SO_SSL_SET_VALIDATE_CERT_HOOK, _SO_SSL_SET_PEERNAME,
                    _SO_SSL_SET_SERVER_CERT, _SO_SSL_PERFORM_HANDSHAKE, _SO_SSL_GET_CONNECTION_INFO,
                    _SO_SSL_SET_CA_CERTS):
        if code & 0xFF <= 0x0B:
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
        _start(c, _context(c), not c.state & _NONBLOCK)
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
        ders = _der(bytes(arg), b"CERTIFICATE") if isinstance(arg, (bytes, bytearray)) and arg else None
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


def WSPIoctl(c, code, in_data, out_len, ov, cr, tid):
    """SO_SSL_* ioctls are ours; FIONBIO is noted and passed on; others go to the lower socket."""
    if code & _SSL_FAMILY_MASK == _SO_SSL:
        if c.state & _DEAD and code != _SO_SSL_GET_FLAGS:
            _live(c)
        return _ssl_ioctl(c, code, in_data)
    if code == _SIO_SET_SOCKET_HANDLE:
        old = c.handle  # re-homed under another layer: our socket answers to a new handle
        c.handle = in_data
        return old
    _live(c)
    if code == _FIONREAD and c.eng is not None:
        try:
            _fill_stash(c, _STASH, True)
        except WSAError as e:
            if e.args[0] != WSAEWOULDBLOCK:
                raise
        return len(c.stash) if c.stash else 0
    r = c.lt[_WSP_IOCTL](c.lc, code, in_data, out_len, ov, cr, tid)
    if code == _FIONBIO:
        c.state = (c.state | _NONBLOCK) if in_data else (c.state & ~_NONBLOCK)
    return r


def _ready(c):
    # Readable without waiting: decrypted bytes, the end of the stream, a failure (recv reports it), a plain socket.
    if c.eng is None or c.stash:
        return True
    try:
        _fill_stash(c, 1, True)
        return True
    except WSAError as e:
        if e.args[0] == WSAEWOULDBLOCK:
            return c.eng is not None and c.eng.eof()  # a partial record or a handshake message: not yet
        return True


def _ticks():
    import time

    return time.ticks_ms() if _MICROPYTHON else int(time.monotonic() * 1000)


def _since(t0):
    import time

    return time.ticks_diff(_ticks(), t0) if _MICROPYTHON else _ticks() - t0


def WSPSelect(r, w, x, ms):
    """select for ssllsp sockets: readable means decrypted data (or the end) is there, not merely ciphertext."""
    t0 = _ticks()
    while True:
        rr = [c for c in r if c.state & _DEAD or c.stash]
        groups = {}  # id(lower table) -> [table, read, write, except] lower contexts
        back = {}
        for k, cs in ((1, r), (2, w), (3, x)):
            for c in cs:
                if c.lc is None:
                    continue
                kk = k
                if k == 2 and c.state & _WANT_IN and not c.out:
                    kk = 1  # the handshake waits for the peer: a send can go on once input comes
                g = groups.get(id(c.lt))
                if g is None:
                    g = groups[id(c.lt)] = [c.lt, [], [], []]
                if c.lc not in g[kk]:
                    g[kk].append(c.lc)
                back[id(c.lc)] = c
        if not groups:
            return rr, [], []
        left = 0 if rr else (None if ms is None else max(0, ms - _since(t0)))
        ww = []
        xx = []
        for g in groups.values():
            # Several lower providers: no single wait covers them all, so look in short slices.
            gr, gw, gx = g[0][_WSP_SELECT](g[1], g[2], g[3], left if len(groups) == 1 else 0)
            for lc in gr:
                c = back[id(lc)]
                if c in w and c not in ww:
                    ww.append(c)
                if c in r and c not in rr and _ready(c):
                    rr.append(c)
            for lc in gw:
                if back[id(lc)] not in ww:
                    ww.append(back[id(lc)])
            for lc in gx:
                xx.append(back[id(lc)])
        if rr or ww or xx or left == 0 or (ms is not None and _since(t0) >= ms):
            return rr, ww, xx
        if len(groups) > 1:
            import time

            time.sleep(0.01)


def _down(i):
    # The pass-through for proc-table slot i: the same call on the lower socket.
    def call(c, *args):
        _live(c)
        return c.lt[i](c.lc, *args)

    return call


def _by_info(i):
    # Slots that name no socket (address conversion) go to the next provider of the given chain.
    def call(*args):
        table, down = _lower_of(args[-1])
        return table[i](*(args[:-1] + (down,)))

    return call


def _unsupported(*args):
    raise WSAError(WSAEOPNOTSUPP, "not supported on ssllsp sockets")


def WSPCleanup():
    """Drop one WSPStartup reference."""
    global _starts
    if _starts <= 0:
        raise WSAError(WSANOTINITIALISED)
    _starts -= 1
    return 0


_TABLE = (
    WSPAccept, _by_info(_WSP_ADDRESSTOSTRING), _down(2), _down(3), _unsupported, WSPCleanup, WSPCloseSocket, WSPConnect,
    _unsupported, _down(9), _down(10), _down(11), _down(12), _down(13), WSPGetSockOpt, _down(15), WSPIoctl,
    _unsupported, WSPListen, WSPRecv, _down(20), WSPRecvFrom, WSPSelect, WSPSend, _down(24), WSPSendTo,
    WSPSetSockOpt, _down(27), WSPSocket, _by_info(_WSP_STRINGTOADDRESS),
)


def adopt_connected(table, lower_handle, entry_id, host):
    """ws2 extension: put a secure socket of catalog entry entry_id over a connected lower socket; returns its handle.

    What ws2.compat's wrap_socket uses: clients turn TLS on after connect, so
    the connected socket (any provider's, given its proc table) becomes the
    lower socket of a new one here, SO_SECURE on; SSL options and
    SO_SSL_PERFORM_HANDSHAKE follow as on a socket made secure before connect.
    """
    c = _adopt(table, lower_handle, entry_id)
    c.state |= _SECURE | _CONNECTED
    c.host = host
    return c.handle


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    global _upcalls, _starts
    if (version & 0xFF) < 2:
        raise WSAError(10092)  # WSAVERNOTSUPPORTED
    _upcalls = upcalls
    _starts += 1
    return (_VERSION, _VERSION, "ws2 ssllsp TLS layer"), _TABLE
