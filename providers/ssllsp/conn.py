# providers/ssllsp/conn: one TLS connection: its context, its state bits, and the loop that drives its engine.
# MIT licence; part of ws2 for MicroPython.
#
# The engine (engine_mp.py or engine_cpy.py, whichever the port runs) never
# touches the network: ciphertext it produces goes down through the lower
# provider's proc table (emit, with an outbox for a non-blocking lower socket
# that cannot take it all), ciphertext it needs comes up the same way (lrecv).
# drive() runs one engine operation until it completes, feeding it ciphertext;
# a failure of the session closes the socket below (fatal, abort) and is
# reported with its WSA error from then on (live).
from providers import layer
from ws2.errors import (WSAError, WSAEACCES, WSAECONNABORTED, WSAECONNRESET, WSAENOBUFS, WSAENOTCONN,
                        WSAEWOULDBLOCK, wsa_code)
from ws2.port import const

_WSP_CLOSESOCKET = const(6)
_WSP_RECV = const(19)
_WSP_SEND = const(23)
_MSG_DONTWAIT = const(0x40)
_SSL_FLAG_SERVER = const(2)

# The state bits of a Conn (Conn.state): this module is their one home; the other modules of the
# package keep private copies (folded by MicroPython), which host_tests/unit/test_ssllsp_consts.py checks.
_SECURE = const(0x01)  # SO_SECURE is SO_SEC_SSL
_CONNECTED = const(0x02)
_LISTENING = const(0x04)
_STARTED = const(0x08)  # the TLS engine exists: SSL options are locked
_DONE = const(0x10)  # the handshake has completed
_NONBLOCK = const(0x20)
_DEAD = const(0x40)  # the TLS session failed; the lower socket is closed
_HOOK_OK = const(0x80)  # the validation hook accepted the chain of this handshake
_WANT_IN = const(0x100)  # the unfinished handshake waits for the peer
_ADOPTED = const(0x200)  # connected before ssllsp took the socket over (re-homing): SO_SECURE may still come
# What engine operation drive() runs
_READ = const(0)
_WRITE = const(1)
_SHAKE = const(2)


class Conn(layer.Sock):
    """Provider context of one socket: the lower socket (layer.Sock), TLS options and, once started, the engine."""

    def __init__(self, table, lower_handle, entry_id):
        layer.Sock.__init__(self, table, lower_handle, entry_id)
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


def lrecv(c, buf, dontwait):
    """Receive ciphertext into buf from the lower socket: a count (0 = closed), None = would block."""
    try:
        return c.lt[_WSP_RECV](c.lc, buf, _MSG_DONTWAIT if dontwait else 0, None, None, None)[0]
    except WSAError as e:
        if e.args[0] == WSAEWOULDBLOCK:
            return None
        raise


def flush(c, block):
    """Send what waits in the outbox; a blocking flush sends it all."""
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


def emit(c, data, block):
    """Ciphertext from the engine: straight down when the lower socket takes it, else into the outbox."""
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
        flush(c, True)


def start(c, ctx, block):
    """Create the engine for c's connection; a blocking start runs the whole handshake."""
    c.state |= _STARTED
    c.err = c.why = c.chain = None
    server = c.sslf & _SSL_FLAG_SERVER
    host = None if server else (c.peer or c.host)
    try:
        c.eng = engine()(c, ctx, server, host, block)
    except Exception as e:
        raise fatal(c, e)
    if block:
        drive(c, _SHAKE, None, False)


def engine():
    """The port's engine class (engine_mp or engine_cpy), imported when SO_SECURE is first set."""
    import sys

    if sys.implementation.name == "micropython":
        from providers.ssllsp.engine_mp import Engine
    else:
        from providers.ssllsp.engine_cpy import Engine
    return Engine


def _done(c):
    # The first moment the handshake is known to be over.
    c.state = (c.state | _DONE) & ~_WANT_IN
    if c.hook is not None and not c.state & _HOOK_OK and not c.sslf & _SSL_FLAG_SERVER:
        from providers.ssllsp.certs import ask_hook

        chain = c.eng.chain()
        if chain is None or ask_hook(c, chain):  # mbedTLS never asked it, or CPython's hook said no
            if c.why is None:
                c.why = "the validation hook was never consulted"
            raise WSAError(WSAEACCES, "ssllsp: " + c.why)


def fatal(c, e):
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


def drive(c, op, buf, nb):
    """Run engine op (_READ, _WRITE, _SHAKE) until it completes, feeding it ciphertext."""
    e = c.eng
    while True:
        if c.out:
            flush(c, not nb)
        try:
            r = e.write(c, buf) if op == _WRITE else (e.read(c, buf) if op == _READ else e.shake(c, buf))
            if c.err is not None:  # a lower failure the engine swallowed
                raise c.err
            if r is not None and not c.state & _DONE:
                _done(c)
        except Exception as x:
            if op == _READ and c.state & _DONE and c.err is None and e.eof():
                return 0  # the peer closed without close_notify: an end of stream, as CPython's default
            raise fatal(c, x)
        if r is not None:
            return r
        if not c.state & _DONE:
            c.state |= _WANT_IN
        if e.feed(c):
            continue
        if nb:
            raise WSAError(WSAEWOULDBLOCK)
        e.wait(c)


def live(c):
    """WSAENOTCONN, with the reason, once the TLS session has failed."""
    if c.state & _DEAD:
        raise WSAError(WSAENOTCONN, "the TLS connection failed: %s" % (c.fail[1],))
