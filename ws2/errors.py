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

# Messages live in one string constant: in frozen firmware it stays in flash,
# and it is only searched when an error is printed, never when one is raised.
_MESSAGES = """6 WSA_INVALID_HANDLE Specified event object handle is invalid
8 WSA_NOT_ENOUGH_MEMORY Insufficient memory available
87 WSA_INVALID_PARAMETER One or more parameters are invalid
995 WSA_OPERATION_ABORTED Overlapped operation aborted
996 WSA_IO_INCOMPLETE Overlapped I/O event object not in signaled state
997 WSA_IO_PENDING Overlapped operations will complete later
10004 WSAEINTR Interrupted function call
10009 WSAEBADF File handle is not valid
10013 WSAEACCES Permission denied
10014 WSAEFAULT Bad address
10022 WSAEINVAL Invalid argument
10024 WSAEMFILE Too many open sockets
10035 WSAEWOULDBLOCK Resource temporarily unavailable
10036 WSAEINPROGRESS Operation now in progress
10037 WSAEALREADY Operation already in progress
10038 WSAENOTSOCK Socket operation on nonsocket
10039 WSAEDESTADDRREQ Destination address required
10040 WSAEMSGSIZE Message too long
10041 WSAEPROTOTYPE Protocol wrong type for socket
10042 WSAENOPROTOOPT Bad protocol option
10043 WSAEPROTONOSUPPORT Protocol not supported
10044 WSAESOCKTNOSUPPORT Socket type not supported
10045 WSAEOPNOTSUPP Operation not supported
10046 WSAEPFNOSUPPORT Protocol family not supported
10047 WSAEAFNOSUPPORT Address family not supported by protocol family
10048 WSAEADDRINUSE Address already in use
10049 WSAEADDRNOTAVAIL Cannot assign requested address
10050 WSAENETDOWN Network is down
10051 WSAENETUNREACH Network is unreachable
10052 WSAENETRESET Network dropped connection on reset
10053 WSAECONNABORTED Software caused connection abort
10054 WSAECONNRESET Connection reset by peer
10055 WSAENOBUFS No buffer space available
10056 WSAEISCONN Socket is already connected
10057 WSAENOTCONN Socket is not connected
10058 WSAESHUTDOWN Cannot send after socket shutdown
10059 WSAETOOMANYREFS Too many references
10060 WSAETIMEDOUT Connection timed out
10061 WSAECONNREFUSED Connection refused
10062 WSAELOOP Cannot translate name
10063 WSAENAMETOOLONG Name too long
10064 WSAEHOSTDOWN Host is down
10065 WSAEHOSTUNREACH No route to host
10066 WSAENOTEMPTY Directory not empty
10067 WSAEPROCLIM Too many processes
10091 WSASYSNOTREADY Network subsystem is unavailable
10092 WSAVERNOTSUPPORTED Winsock version out of range
10093 WSANOTINITIALISED Successful WSAStartup not yet performed
10101 WSAEDISCON Graceful shutdown in progress
10102 WSAENOMORE No more results
10103 WSAECANCELLED Call has been canceled
10104 WSAEINVALIDPROCTABLE Procedure call table is invalid
10105 WSAEINVALIDPROVIDER Service provider is invalid
10106 WSAEPROVIDERFAILEDINIT Service provider failed to initialize
10107 WSASYSCALLFAILURE System call failure
10108 WSASERVICE_NOT_FOUND Service not found
10109 WSATYPE_NOT_FOUND Class type not found
10110 WSA_E_NO_MORE No more results
10111 WSA_E_CANCELLED Call was canceled
10112 WSAEREFUSED Database query was refused
11001 WSAHOST_NOT_FOUND Host not found
11002 WSATRY_AGAIN Nonauthoritative host not found
11003 WSANO_RECOVERY This is a nonrecoverable error
11004 WSANO_DATA Valid name, no data record of requested type
"""


def _line(code):
    # "name text" of code's line in _MESSAGES, or None.
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    key = "%d " % code
    i = _MESSAGES.find(key)
    while i > 0 and _MESSAGES[i - 1] != "\n":
        i = _MESSAGES.find(key, i + 1)
    if i < 0:
        return None
    return _MESSAGES[i + len(key) : _MESSAGES.find("\n", i)]


def strerror(code):
    """Return the Winsock message for a WSA error code."""
    s = _line(code)
    return "Unknown error" if s is None else s[s.find(" ") + 1 :]


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
