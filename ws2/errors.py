# ws2/errors: WSAError, the WSA error codes, and the one errno -> WSA table.
# MIT licence; part of ws2 for MicroPython.
import errno
import sys

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


WSABASEERR = 10000
WSAEINTR = 10004
WSAEBADF = 10009
WSAEACCES = 10013
WSAEFAULT = 10014
WSAEINVAL = 10022
WSAEMFILE = 10024
WSAEWOULDBLOCK = 10035
WSAEINPROGRESS = 10036
WSAEALREADY = 10037
WSAENOTSOCK = 10038
WSAEDESTADDRREQ = 10039
WSAEMSGSIZE = 10040
WSAEPROTOTYPE = 10041
WSAENOPROTOOPT = 10042
WSAEPROTONOSUPPORT = 10043
WSAESOCKTNOSUPPORT = 10044
WSAEOPNOTSUPP = 10045
WSAEPFNOSUPPORT = 10046
WSAEAFNOSUPPORT = 10047
WSAEADDRINUSE = 10048
WSAEADDRNOTAVAIL = 10049
WSAENETDOWN = 10050
WSAENETUNREACH = 10051
WSAENETRESET = 10052
WSAECONNABORTED = 10053
WSAECONNRESET = 10054
WSAENOBUFS = 10055
WSAEISCONN = 10056
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAETOOMANYREFS = 10059
WSAETIMEDOUT = 10060
WSAECONNREFUSED = 10061
WSAELOOP = 10062
WSAENAMETOOLONG = 10063
WSAEHOSTDOWN = 10064
WSAEHOSTUNREACH = 10065
WSAENOTEMPTY = 10066
WSAEPROCLIM = 10067
WSASYSNOTREADY = 10091
WSAVERNOTSUPPORTED = 10092
WSANOTINITIALISED = 10093
WSAEDISCON = 10101
WSAENOMORE = 10102
WSAECANCELLED = 10103
WSAEINVALIDPROCTABLE = 10104
WSAEINVALIDPROVIDER = 10105
WSAEPROVIDERFAILEDINIT = 10106
WSASYSCALLFAILURE = 10107
WSASERVICE_NOT_FOUND = 10108
WSATYPE_NOT_FOUND = 10109
WSA_E_NO_MORE = 10110
WSA_E_CANCELLED = 10111
WSAEREFUSED = 10112
WSAHOST_NOT_FOUND = 11001
WSATRY_AGAIN = 11002
WSANO_RECOVERY = 11003
WSANO_DATA = 11004
WSA_INVALID_HANDLE = 6
WSA_NOT_ENOUGH_MEMORY = 8
WSA_INVALID_PARAMETER = 87
WSA_OPERATION_ABORTED = 995
WSA_IO_INCOMPLETE = 996
WSA_IO_PENDING = 997


def _line(code):
    # "NAME text" of code's line in ws2.errmsg, or None. The messages are a
    # module of their own, loaded when an error is first shown (never when one
    # is raised): from .mpy files they would cost heap.
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    try:
        from ws2.errmsg import MESSAGES as m
    except (ImportError, OSError, MemoryError):
        # No file descriptor or heap left to load the texts (the unix port's sockets are descriptors):
        # an error is still shown, with its code and detail.
        return None

    key = "%d " % code
    i = m.find(key)
    while i > 0 and m[i - 1] != "\n":
        i = m.find(key, i + 1)
    if i < 0:
        return None
    return m[i + len(key) : m.find("\n", i)]


def strerror(code):
    """Return the Winsock message for a WSA error code."""
    s = _line(code)
    return "Unknown error" if s is None else s[s.find(" ") + 1 :]


def shown(value):
    """Return how an error message shows a bad argument: numbers as they are, anything else by its type."""
    # The text of a 64 KB bytes is four times its size: more than a board's heap may have left.
    return ("%r" % (value,)) if isinstance(value, (int, float)) else type(value).__name__


def errname(code):
    """Return the symbolic name of a WSA error code ("WSAECONNREFUSED"), or "" when it has none."""
    s = _line(code)
    return "" if s is None else s[: s.find(" ")]


class WSAError(OSError):
    """A Winsock failure: errno is the WSA code; an optional detail says more."""

    def __init__(self, code, detail=""):
        # Two arguments, so that CPython's OSError also sets .errno.
        super().__init__(code, detail)

    def _text(self):
        # "WSAECONNREFUSED: Connection refused: detail"
        a = self.args
        code = a[0] if a else None
        name = errname(code)
        s = (name + ": " if name else "") + strerror(code)
        if len(a) > 1 and a[1]:
            s += ": " + str(a[1])
        return s

    def __str__(self):
        return "[WSA %s] %s" % (self.args[0] if self.args else None, self._text())

    # MicroPython prints an exception subclass in a traceback through its repr,
    # so the repr carries the name and text too (not just the bare args).
    def __repr__(self):
        return "WSAError(%r, %r)" % (self.args[0] if self.args else None, self._text())


# errno -> WSA. Values come from the running port's errno module where it
# has the name; the rest differ per C library (newlib on esp32, Linux
# numbers on rp2 and unix), so they sit in one per-platform table here.
_E = errno
if sys.platform == "esp32":  # newlib numbering
    _extra = ((32, WSAECONNRESET), (127, WSAEISCONN), (122, WSAEMSGSIZE), (121, WSAEDESTADDRREQ),
              (114, WSAENETUNREACH), (115, WSAENETDOWN), (110, WSAESHUTDOWN), (125, WSAEADDRNOTAVAIL),
              (106, WSAEAFNOSUPPORT), (123, WSAEPROTONOSUPPORT), (109, WSAENOPROTOOPT), (24, WSAEMFILE),
              (23, WSAEMFILE), (4, WSAEINTR), (108, WSAENOTSOCK), (117, WSAEHOSTDOWN),
              (134, WSAEOPNOTSUPP), (124, WSAESOCKTNOSUPPORT), (107, WSAEPROTOTYPE), (126, WSAENETRESET),
              (13, WSAEACCES))
else:  # Linux numbering (rp2 uses MicroPython's internal errno = Linux values)
    _extra = ((32, WSAECONNRESET), (106, WSAEISCONN), (90, WSAEMSGSIZE), (89, WSAEDESTADDRREQ),
              (101, WSAENETUNREACH), (100, WSAENETDOWN), (108, WSAESHUTDOWN), (99, WSAEADDRNOTAVAIL),
              (97, WSAEAFNOSUPPORT), (93, WSAEPROTONOSUPPORT), (92, WSAENOPROTOOPT), (24, WSAEMFILE),
              (23, WSAEMFILE), (4, WSAEINTR), (88, WSAENOTSOCK), (112, WSAEHOSTDOWN), (94, WSAESOCKTNOSUPPORT),
              (91, WSAEPROTOTYPE), (13, WSAEACCES), (102, WSAENETRESET))
_ERRNO = {}
for _k, _v in _extra:
    _ERRNO[_k] = _v
for _k, _v in (("EAGAIN", WSAEWOULDBLOCK), ("EWOULDBLOCK", WSAEWOULDBLOCK), ("EINPROGRESS", WSAEWOULDBLOCK),
               ("EALREADY", WSAEALREADY), ("ENOMEM", WSAENOBUFS), ("ENOBUFS", WSAENOBUFS), ("EBADF", WSAENOTSOCK),
               ("EINVAL", WSAEINVAL), ("EOPNOTSUPP", WSAEOPNOTSUPP), ("EADDRINUSE", WSAEADDRINUSE),
               ("ECONNABORTED", WSAECONNABORTED), ("ECONNRESET", WSAECONNRESET), ("ENOTCONN", WSAENOTCONN),
               ("ETIMEDOUT", WSAETIMEDOUT), ("ECONNREFUSED", WSAECONNREFUSED), ("EHOSTUNREACH", WSAEHOSTUNREACH),
               ("EACCES", WSAEACCES), ("EPERM", WSAEACCES), ("EISCONN", WSAEISCONN), ("EPIPE", WSAECONNRESET),
               ("EMSGSIZE", WSAEMSGSIZE), ("ENETUNREACH", WSAENETUNREACH), ("EADDRNOTAVAIL", WSAEADDRNOTAVAIL),
               ("EAFNOSUPPORT", WSAEAFNOSUPPORT), ("EINTR", WSAEINTR)):
    if hasattr(_E, _k):
        _ERRNO[getattr(_E, _k)] = _v
del _extra, _k, _v, _E


def wsa_code(exc):
    """Map any exception to a WSA code (the edge where provider failures become Winsock errors)."""
    if isinstance(exc, OSError):
        n = exc.args[0] if exc.args else None
        if isinstance(n, int) and not isinstance(n, bool):
            if n <= 0:
                # lwIP/esp32 getaddrinfo style negative codes; 0 is a provider
                # that failed without saying why (WSASYSCALLFAILURE, as CE and ReactOS)
                return WSANO_RECOVERY if n < 0 and not isinstance(exc, WSAError) else WSASYSCALLFAILURE
            if isinstance(exc, WSAError) or n >= WSABASEERR or n in (6, 8, 87, 995, 996, 997):
                return n  # already a WSA code
            return _ERRNO.get(n, WSASYSCALLFAILURE)
        # CPython's socket.timeout carries no errno
        if "timed out" in str(exc):
            return WSAETIMEDOUT
        return WSASYSCALLFAILURE
    if isinstance(exc, MemoryError):
        return WSAENOBUFS
    if isinstance(exc, (TypeError, ValueError)):
        return WSAEFAULT
    return WSASYSCALLFAILURE


def as_wsa_error(exc):
    """Return exc as a WSAError (unchanged when it already is one with a usable code)."""
    code = wsa_code(exc)
    if isinstance(exc, WSAError) and exc.args[0] == code:
        return exc
    return WSAError(code, "%s: %s" % (type(exc).__name__, exc))
