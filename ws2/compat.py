# ws2/compat: `import socket` through the providers: a drop-in for the port's socket module.
# MIT licence; part of ws2 for MicroPython.
#
# socket(af, type, proto) makes its socket through the router (the catalog's
# entry for the triple, so layered providers see the traffic) and speaks the
# port's socket API: the port's constants, OSError with the port's errno,
# read/readinto/readline/write as MicroPython streams behave, pollable by
# select.poll and asyncio. install() puts this module (and ws2.compat_tls
# for ssl/tls) in sys.modules for third-party code.
#
# The fast path (Winsock's IFS case): when the socket's entry is a base
# provider with no layer above it, the data calls go straight to the
# provider's native object (SIO_GET_POLLABLE), so they cost what the port's
# socket costs and fail with the port's own errors; everything else goes
# through the router. The native object's timeout is then the drop-in's:
# wspm switches it only when its own mode changes, so it is set again after
# the router calls that may have switched it (connect, accept).
import sys

from ws2 import catalog, handles, sockctrl, sockio, socklife, state
from ws2.errors import WSAError, wsa_code
from ws2.native import socket as _n

from ws2.port import const


_WS_AF_INET = const(2)
_WS_AF_INET6 = const(23)
_WS_SOL_SOCKET = const(0xFFFF)
_WS_SO_RCVTIMEO = const(0x1006)
_WS_SO_SNDTIMEO = const(0x1005)
_WS_MSG_PEEK = const(0x2)
_WS_MSG_DONTWAIT = const(0x40)
_FIONBIO = const(0x8004667E)
_SIO_GET_POLLABLE = const(0x58000001)
_WSP_IOCTL = const(16)
_FIONREAD = const(0x4004667F)
_SO_SSL_GET_CONNECTION_INFO = const(0x5073000E)
_WOULDBLOCK = const(10035)
_TIMEDOUT = const(10060)
_NOTSOCK = const(10038)
_FAULT = const(10014)
_HOST_NOT_FOUND = const(11001)
_NO_DATA = const(11004)
_POLL = const(3)
_CLOSE = const(4)
_GET_FILENO = const(10)
_RD = const(0x01)
_WR = const(0x04)
_NVAL = const(0x20)
_EINVAL_NEG = const(-22)
_CHUNK = const(1024)
_LINE = const(256)  # bytes a readline looks ahead (MSG_PEEK) on the router path

_WS2_DROPIN = True  # ws2.native knows this module is not the port's
_MP = sys.implementation.name == "micropython"
_RAW = _MP and hasattr(_n, "sockaddr")  # unix port: addresses are raw struct sockaddr bytes

# The port's names and values, so that code written for the port runs unchanged.
for _k in dir(_n):
    if _k[0].isupper() and isinstance(getattr(_n, _k), int):
        globals()[_k] = getattr(_n, _k)
error = OSError
if not _MP:
    timeout = _n.timeout
    gaierror = _n.gaierror
    inet_ntop, inet_pton = _n.inet_ntop, _n.inet_pton
elif hasattr(_n, "inet_ntop"):
    inet_ntop, inet_pton = _n.inet_ntop, _n.inet_pton

import errno as _E

# port option (level, name) -> Winsock's, for setsockopt; anything else is passed as given.
_OPTS = {}
for _k, _w in (("SO_REUSEADDR", 4), ("SO_BROADCAST", 0x20), ("SO_KEEPALIVE", 8), ("SO_LINGER", 0x80),
               ("SO_ERROR", 0x1007), ("SO_RCVBUF", 0x1002), ("SO_SNDBUF", 0x1001)):
    if hasattr(_n, _k) and hasattr(_n, "SOL_SOCKET"):
        _OPTS[(_n.SOL_SOCKET, getattr(_n, _k))] = (_WS_SOL_SOCKET, _w)
_OPTS[(getattr(_n, "IPPROTO_TCP", 6), getattr(_n, "TCP_NODELAY", 1))] = (6, 1)
_AF = {_n.AF_INET: _WS_AF_INET}
_AF_BACK = {_WS_AF_INET: _n.AF_INET}
if hasattr(_n, "AF_INET6"):
    _AF[_n.AF_INET6] = _WS_AF_INET6
    _AF_BACK[_WS_AF_INET6] = _n.AF_INET6
_TYPE = {_n.SOCK_STREAM: 1, _n.SOCK_DGRAM: 2}
_TYPE_BACK = {1: _n.SOCK_STREAM, 2: _n.SOCK_DGRAM}

# WSA code -> the port's errno (the preferred name where several errnos map to one code).
_ERR = {}
from ws2 import errors as _errors

for _k, _w in _errors._ERRNO.items():
    if _w not in _ERR:
        _ERR[_w] = _k
for _k in ("EAGAIN", "ECONNRESET", "ENOMEM", "EBADF", "EACCES", "ETIMEDOUT", "EMFILE"):
    if hasattr(_E, _k):
        _ERR[_errors._ERRNO.get(getattr(_E, _k), 24 if _k == "EMFILE" else 0)] = getattr(_E, _k)
# A timeout is EAGAIN on the unix port (SO_RCVTIMEO), ETIMEDOUT on lwIP and esp32 (docs/compat.md).
_ETIMEDOUT = _E.EAGAIN if _RAW else _E.ETIMEDOUT
del _k, _w, _errors


def _oserror(e, connecting=False):
    """The exception the port raises where the router failed with e (the port's own errors pass)."""
    if not isinstance(e, WSAError):
        return e
    code = e.args[0]
    if code == _WOULDBLOCK and connecting:
        return _os_error(_E.EINPROGRESS)
    if code == _TIMEDOUT:
        if not _MP:
            return _n.timeout("timed out")
        return OSError(_ETIMEDOUT)
    if code == _FAULT:
        return TypeError(e.args[1] if len(e.args) > 1 and e.args[1] else "bad argument")
    return _os_error(_ERR.get(code, _E.EIO))


def _os_error(code):
    # MicroPython's sockets raise OSError(errno); CPython's raise OSError(errno, text), which sets .errno
    # and picks the subclass (ConnectionResetError, BlockingIOError ...) that CPython code catches.
    if _MP:
        return OSError(code)
    import os

    return OSError(code, os.strerror(code))


def _start():
    # The drop-in needs the router started; it never cleans it up (sockets may outlive any caller).
    if not state.started:
        from ws2 import startup

        startup.WSAStartup(0x0202)


# -- addresses -----------------------------------------------------------------------------

_rawc = [None, None]  # (raw sockaddr, (ip, port)): the last one decoded (unix port)
_tupc = [None, None]  # ((ip, port), raw sockaddr): the last one encoded


def _addr_in(a):
    """A client's address as the router takes it: (ip, port) (raw sockaddr bytes on unix are decoded)."""
    if _RAW and isinstance(a, (str, bytes, bytearray)):
        return a  # a raw struct sockaddr: decoded by _raw_in once the socket is known to be open
    if type(a) is not tuple or len(a) < 2 or not isinstance(a[0], str) or not isinstance(a[1], int):
        raise TypeError("address must be a pair (host, port)")  # checked before the socket's state, as the port does
    return a


def _raw_in(a, h):
    # The unix port hands any buffer to the kernel as a struct sockaddr: what is not one is EINVAL there.
    if type(a) is tuple:
        return a
    if isinstance(a, str) or len(a) < 16 or a[0] + a[1] * 256 != _n.AF_INET and a[0] * 256 + a[1] != _n.AF_INET:
        raise _os_error(_E.EINVAL)
    return _addr_out(a)


def _addr_out(raw):
    """The port's native address as (ip, port)."""
    if not _RAW or isinstance(raw, tuple):
        return raw
    if _rawc[0] == raw:
        return _rawc[1]
    s = _n.sockaddr(raw)
    ip = _n.inet_ntop(s[0], s[1])
    t = (ip, s[2])
    _rawc[0], _rawc[1] = bytes(raw), t
    return t


def _native_addr(a):
    # (ip, port) as the native sendto takes it.
    if not _RAW or not isinstance(a, tuple):
        return a
    if _tupc[0] == a:
        return _tupc[1]
    raw = _n.getaddrinfo(a[0], a[1])[0][-1]
    _tupc[0], _tupc[1] = a, raw
    return raw


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(af, type, proto, canonname, (ip, port))] through the namespace router; numeric hosts need no lookup."""
    for v in (af, type, proto, flags):
        if not isinstance(v, int):  # as the port says it (and before a table lookup that would hash v)
            raise TypeError("can't convert %s to int" % (v.__class__.__name__,))
    if isinstance(host, str) and af in (0, _n.AF_INET) and isinstance(port, int) and 0 <= port < 65536:
        from ws2.inaddr import ip4

        if ip4(host) is not None:
            return [(_n.AF_INET, type or _n.SOCK_STREAM, proto, "", (host, port))]
    _start()
    try:
        from ws2 import addrinfo

        got = addrinfo.getaddrinfo(host, port, _AF.get(af, af) if af else 0, _TYPE.get(type, type) if type else 0,
                                   proto, flags)
    except WSAError as e:
        code = e.args[0]
        if code in (_HOST_NOT_FOUND, _NO_DATA):
            if not _MP:
                raise _n.gaierror(-2, "Name or service not known")
            raise OSError(-2)  # EAI_NONAME, as lwIP and the unix port say it
        raise _oserror(e)
    out = []
    for a, t, p, c, sa in got:
        if type and len(out):
            break  # one entry per address, as lwIP answers
        out.append((_AF_BACK.get(a, a), _TYPE_BACK.get(t, t), p, c, sa[:2] if not _MP or a == _WS_AF_INET else sa))
    return out


# The data calls that go straight to the native socket on the fast path.
_FAST = tuple(n for n in ("send", "recv", "sendall") + (("read", "readinto", "readline", "write") if _MP else ()) +
              (() if _RAW else ("sendto", "recvfrom")) if hasattr(_n.socket, n))
if _MP:
    import io

    _Base = io.IOBase
else:
    _Base = object


def _mv(buf, a, b):
    # write(buf, max) / write(buf, off, max) as the port's stream write takes them.
    if isinstance(buf, str):
        buf = buf.encode()
    if a is None:
        return buf
    mv = memoryview(buf)
    return mv[:a] if b is None else mv[a : a + b]


class socket(_Base):
    """A socket of the port's API made through the ws2 catalog."""

    _h = 0  # router handle; 0 once closed
    _sk = None  # native object for the data calls (fast path), None: through the router
    _pl = None  # native object the kernel polls (None: nothing to poll)
    _pp = None  # a select.poll over _pl, for ioctl(POLL) where the port asks
    _t = None  # timeout: None blocking, 0 non-blocking, > 0 seconds
    _ms = 0  # SO_RCVTIMEO/SO_SNDTIMEO the provider holds (-1: not known)
    _tls = False  # a layer buffers above the kernel: readiness comes from the router

    def __init__(self, af=_n.AF_INET, type=_n.SOCK_STREAM, proto=0, *, _h=0):
        if _h:  # accept(): a socket the router already made
            self._attach(_h)
            return
        _start()
        for v in (af, type, proto):
            if not isinstance(v, int):
                raise TypeError("can't convert %s to int" % (v.__class__.__name__,))
        try:
            h = socklife.WSASocket(_AF.get(af, af), _TYPE.get(type, type), proto, None, 0, 1)
        except Exception as e:
            raise _oserror(e)
        self._attach(h)

    def _attach(self, h):
        self._h = h
        i = handles.slot(h)
        try:  # (the provider's WSPIoctl straight: this runs for every socket made)
            pl = handles.prov[i].table[_WSP_IOCTL](handles.ctx[i], _SIO_GET_POLLABLE, None, 0, None, None, None)
        except Exception:
            pl = None  # a provider with nothing to poll: readiness through the router
        self._pl = pl
        e = catalog.by_id(handles.entry[i])
        if pl is not None and e is not None and len(e[catalog.I_CHAIN]) == 1 and hasattr(pl, "recv"):
            self._sk = pl
            # The data calls become the native socket's own bound methods: a call costs what it costs on
            # the port's socket (no frame of ours), and fails with the port's own errors.
            for name in _FAST:
                setattr(self, name, getattr(pl, name))

    def _slow(self):
        # Back to the class's methods (closed, or moved under a layer): they check state and route.
        if self._sk is not None:
            self._sk = None
            for name in _FAST:
                delattr(self, name)

    def _live(self):
        h = self._h
        if not h:
            raise _os_error(_E.EBADF)
        return h

    def _sync(self):
        # The native timeout after a router call (fast path only): the drop-in's own.
        if self._sk is not None:
            self._sk.settimeout(self._t)

    def __repr__(self):
        return "<ws2.compat socket %d>" % self._h

    # -- life -----------------------------------------------------------------

    def close(self):
        """Close (again is a no-op)."""
        h = self._h
        if h:
            self._h = 0
            self._slow()
            self._pl = self._pp = None
            try:
                socklife.closesocket(h)
            except WSAError as e:
                if e.args[0] != _NOTSOCK:
                    raise _oserror(e)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def makefile(self, *a, **k):
        """The socket itself is the stream (as on lwIP and esp32)."""
        return self

    def fileno(self):
        """The kernel's descriptor under this socket (unix, esp32, CPython)."""
        self._live()
        pl = self._pl
        if pl is None or not hasattr(pl, "fileno"):
            raise _os_error(_E.EOPNOTSUPP if hasattr(_E, "EOPNOTSUPP") else _E.EINVAL)
        return pl.fileno()

    def bind(self, addr):
        """Bind to (ip, port)."""
        addr = _addr_in(addr)
        try:
            h = self._live()
            socklife.bind(h, _raw_in(addr, h))
        except WSAError as e:
            raise _oserror(e)

    def listen(self, backlog=2):
        """Listen for connections."""
        try:
            sockctrl.listen(self._live(), backlog)
        except WSAError as e:
            raise _oserror(e)

    def accept(self):
        """Accept a connection: (socket, (ip, port))."""
        try:
            h, addr = socklife.accept(self._live())
        except WSAError as e:
            raise _oserror(e)
        s = socket(_h=h)
        s._t = self._t  # the provider's accepted socket inherits the listener's mode (Winsock)
        s._ms = -1
        s.settimeout(None)  # the port's accepted sockets block
        self._sync()
        return s, addr

    def connect(self, addr):
        """Connect; a non-blocking socket raises OSError(EINPROGRESS)."""
        addr = _addr_in(addr)
        try:
            h = self._live()
            # (the provider connects with the native timeout the drop-in set: no _sync needed)
            sockctrl.connect(h, _raw_in(addr, h))
        except WSAError as e:
            raise _oserror(e, True)

    def getsockname(self):
        """The local (ip, port)."""
        try:
            return sockctrl.getsockname(self._live())[:2]
        except WSAError as e:
            raise _oserror(e)

    def getpeername(self):
        """The peer's (ip, port)."""
        try:
            return sockctrl.getpeername(self._live())[:2]
        except WSAError as e:
            raise _oserror(e)

    def setsockopt(self, level, name, value):
        """Set an option (the port's level and name)."""
        h = self._live()
        lv, nm = _OPTS.get((level, name), (level, name))
        if isinstance(value, (bytes, bytearray)) and len(value) == 4:
            value = int.from_bytes(value, sys.byteorder)
        try:
            sockctrl.setsockopt(h, lv, nm, value)
        except WSAError as e:
            raise _oserror(e)

    def settimeout(self, t):
        """None: blocking; 0: non-blocking; > 0: operations time out after t seconds."""
        if t is not None:
            if not isinstance(t, (int, float)):
                raise TypeError("can't convert %s to float" % (t.__class__.__name__,))
            if t < 0:
                raise ValueError("Timeout value out of range")
        h = self._live()
        ms = 0 if not t else max(1, int(t * 1000))
        try:
            if (t == 0) != (self._t == 0):
                sockctrl.ioctlsocket(h, _FIONBIO, 1 if t == 0 else 0)
            if t != 0 and ms != self._ms:
                sockctrl.setsockopt(h, _WS_SOL_SOCKET, _WS_SO_RCVTIMEO, ms)
                sockctrl.setsockopt(h, _WS_SOL_SOCKET, _WS_SO_SNDTIMEO, ms)
                self._ms = ms
        except WSAError as e:
            raise _oserror(e)
        self._t = t
        self._sync()

    def setblocking(self, flag):
        """setblocking(False) is settimeout(0), setblocking(True) settimeout(None)."""
        if not _MP and not isinstance(flag, int):
            raise TypeError("'%s' object cannot be interpreted as an integer" % (flag.__class__.__name__,))
        self.settimeout(None if flag else 0)

    def shutdown(self, how):
        """Shut down receives (0), sends (1) or both (2)."""
        try:
            sockctrl.shutdown(self._live(), how)
        except WSAError as e:
            raise _oserror(e)

    # -- data ---------------------------------------------------------------------------

    # The data calls below serve the router path (a layered socket, a closed one); on the fast path the
    # native socket's own methods stand in their place on the instance (_attach). CPython's socket has no
    # read/readinto/readline/write: those are built on recv and send, so they take the fast path too.

    def send(self, buf, flags=0):
        """Send; returns the count sent."""
        if isinstance(buf, str) and _MP:
            buf = buf.encode()  # MicroPython sends a str's bytes
        memoryview(buf)  # the port's TypeError for what is not a buffer, before EBADF
        h = self._live()
        try:
            return sockio.send(h, buf, self._wsflags(flags))
        except WSAError as e:
            raise _oserror(e)

    def sendall(self, buf):
        """Send all of buf."""
        mv = memoryview(buf)
        k = 0
        while k < len(mv):
            k += self.send(mv[k:])

    def recv(self, n, flags=0):
        """Receive up to n bytes; b'' at the end of the stream."""
        if not isinstance(n, int):
            raise TypeError("can't convert %s to int" % (n.__class__.__name__,))
        h = self._live()
        try:
            return sockio.recv(h, n, self._wsflags(flags))
        except WSAError as e:
            raise _oserror(e)

    def _wsflags(self, flags):
        if not flags:
            return 0
        w = 0
        if flags & getattr(_n, "MSG_PEEK", 0x2):
            w |= _WS_MSG_PEEK
        if flags & getattr(_n, "MSG_DONTWAIT", 0x40):
            w |= _WS_MSG_DONTWAIT
        return w

    def sendto(self, buf, addr):
        """Send a datagram to (ip, port)."""
        sk = self._sk
        if sk is not None:  # the unix port: its sendto takes a raw sockaddr
            return sk.sendto(buf, _native_addr(addr))
        addr = _addr_in(addr)
        memoryview(buf)
        try:
            h = self._live()
            return sockio.sendto(h, buf, _raw_in(addr, h))
        except WSAError as e:
            raise _oserror(e)

    def recvfrom(self, n):
        """Receive a datagram: (data, (ip, port))."""
        sk = self._sk
        if sk is not None:  # the unix port: its recvfrom gives a raw sockaddr
            r = sk.recvfrom(n)
            return r[0], _addr_out(r[1])
        try:
            return sockio.recvfrom(self._live(), n)
        except WSAError as e:
            raise _oserror(e)

    # -- the stream protocol (MicroPython's read/write) ------------------------------------

    def _again(self, e):
        # True when e is "nothing now" on a non-blocking socket: the stream calls answer None then.
        return self._t == 0 and e.args and e.args[0] == _E.EAGAIN

    def read(self, n=-1):
        """Blocking: exactly n bytes unless the stream ends; non-blocking: what is there, None if nothing."""
        if n is not None and not isinstance(n, int):
            raise TypeError("can't convert %s to int" % (n.__class__.__name__,))
        self._live()
        out = b""
        while n is None or n < 0 or len(out) < n:
            try:
                got = self.recv(_CHUNK if n is None or n < 0 else min(n - len(out), 4096))
            except OSError as e:
                if self._again(e):
                    return out or None
                raise
            if not got:
                break
            out += got
            if self._t == 0:
                break
        return out

    def readinto(self, buf, n=-1):
        """Fill buf (its first n bytes) until full or the stream ends; None when non-blocking and empty."""
        if isinstance(buf, (bytes, str)):
            raise TypeError("object with buffer protocol required")  # (a writable one)
        mv = memoryview(buf)
        self._live()
        if n >= 0:
            mv = mv[:n]
        sk = self._sk
        k = 0
        while k < len(mv):
            try:
                if sk is not None:
                    got = sk.recv_into(mv[k:])
                else:
                    try:
                        got = sockio.recv_into(self._h, mv[k:])
                    except WSAError as e:
                        raise _oserror(e)
            except OSError as e:
                if self._again(e):
                    return k or None
                raise
            if not got:
                break
            k += got
            if self._t == 0:
                break
        return k

    def readline(self, limit=-1):
        """A line ending in b'\\n' (or the end); non-blocking: None or what has come of it."""
        self._live()
        out = b""
        while limit < 0 or len(out) < limit:
            want = _LINE if limit < 0 else min(_LINE, limit - len(out))
            try:
                peek = self.recv(want, getattr(_n, "MSG_PEEK", 0x2))
            except OSError as e:
                if self._again(e):
                    return out or None
                raise
            if not peek:
                break
            i = peek.find(b"\n")
            out += self.recv(i + 1 if i >= 0 else len(peek))
            if i >= 0 or self._t == 0:
                break
        return out

    def write(self, buf, a=None, b=None):
        """write(buf), write(buf, max), write(buf, off, max): blocking writes all; non-blocking part or None."""
        mv = memoryview(_mv(buf, a, b))
        self._live()
        n = len(mv)
        k = 0
        while k < n:
            try:
                k += self.send(mv[k:] if k else mv)
            except OSError as e:
                if self._again(e):
                    return k or None
                raise
            if self._t == 0:
                break
        return k

    # -- being polled (select.poll, asyncio) ------------------------------------------------

    def ioctl(self, req, arg):
        """MicroPython's stream ioctl: POLL, CLOSE and GET_FILENO; others -EINVAL."""
        if req == _POLL:
            return self._ready(arg)
        if req == _CLOSE:
            self.close()
            return 0
        if req == _GET_FILENO:
            # Asked once per registration (asyncio registers for every wait): the kernel polls the
            # native socket unless a layer keeps bytes above it or a TLS handshake is under way; then
            # -1 makes select ask ioctl(POLL), which the layer answers.
            pl = self._pl
            if self._h and pl is not None and hasattr(pl, "fileno") and (not self._tls or self._quiet()):
                return pl.fileno()
            return -1
        return _EINVAL_NEG

    def _quiet(self):
        # A TLS socket with its handshake done and no decrypted byte waiting (FIONREAD first takes
        # what the engine holds into ssllsp's read-ahead).
        h = self._h
        try:
            if sockctrl.ioctlsocket(h, _FIONREAD, 0):
                return False
            sockctrl.WSAIoctl(h, _SO_SSL_GET_CONNECTION_INFO, None, 0)
        except WSAError:
            return False
        return True

    def _ready(self, arg):
        h = self._h
        if not h:
            return _NVAL
        if self._tls:
            from ws2 import sockselect

            try:
                r, w, x = sockselect.select([h] if arg & _RD else [], [h] if arg & _WR else [], [h], 0)
            except WSAError:
                return 0x08  # ERR
            return (_RD if r else 0) | (_WR if w else 0) | (0x08 if x else 0)
        pl = self._pl
        if pl is None:
            return 0
        import select

        p = self._pp
        if p is None:
            p = self._pp = select.poll()
            p.register(pl, arg)
        else:
            p.modify(pl, arg)
        got = p.poll(0)
        return got[0][1] if got else 0


if not _MP:

    def create_connection(address, timeout=None, source_address=None, **kw):
        """CPython's socket.create_connection (http.client uses it), through the catalog."""
        host, port = address[:2]
        err = None
        for af, t, p, _, sa in getaddrinfo(host, port, 0, _n.SOCK_STREAM):
            s = socket(af, t, p)
            try:
                if timeout is not None:
                    s.settimeout(timeout)
                if source_address:
                    s.bind(source_address)
                s.connect(sa)
                return s
            except OSError as e:
                err = e
                s.close()
        raise err or _os_error(_E.EHOSTUNREACH)


# -- install -------------------------------------------------------------------------------

_NAMES = ("socket", "usocket", "ssl", "ussl", "tls")
_before = None  # sys.modules entries install() replaced (None: not installed)


def install():
    """Make `import socket/usocket/ssl/ussl/tls` give the drop-ins (call in boot.py, before clients import)."""
    global _before
    if _before is not None:
        return
    from ws2 import compat_ssl, compat_tls, native

    # The port's modules are kept first: providers import them through ws2.native.
    for name in ("socket", "tls", "ssl") if _MP else ("socket", "ssl"):
        if name in native.saved:
            continue
        if name == "ssl" and _MP and "tls" in native.saved:
            continue  # micropython-lib's ssl is a wrapper of tls: the providers use tls
        try:
            native.saved[name] = __import__(name)
        except ImportError:
            pass
    me = sys.modules[__name__]
    before = {}
    for name in _NAMES:
        before[name] = sys.modules.get(name)
        sys.modules[name] = me if name in ("socket", "usocket") else (compat_tls if name == "tls" else compat_ssl)
    _before = before


def uninstall():
    """Give `import socket/ssl/tls` back to the port's modules."""
    global _before
    if _before is None:
        return
    for name in _NAMES:
        old = _before[name]
        if old is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = old
    _before = None
