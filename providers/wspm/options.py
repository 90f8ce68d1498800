# providers/wspm/options: socket options, ioctls, what is kept for the port, duplication.
# MIT licence; part of ws2 for MicroPython.
#
# Options the port lacks (SO_KEEPALIVE, SO_LINGER, the multicast ones on lwIP)
# are kept here and reported back; lwIP is never handed an option it would
# answer with "Warning: ... not implemented".
import sys

from ws2.native import socket as _so  # the port's module, even after ws2.compat.install()
from ws2.errors import (WSAError, WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEFAULT, WSAEINVAL, WSAENOPROTOOPT,
                        WSAEOPNOTSUPP, wsa_code)
from ws2.port import const

_w = sys.modules.get(__name__[: __name__.rfind(".")])  # the core, providers.wspm: its _part() (re)binds it
_AF_INET = const(2)
_AF_INET6 = const(23)
_SOCK_STREAM = const(1)
_SOCK_DGRAM = const(2)
_IPPROTO_IP = const(0)
_IPPROTO_TCP = const(6)
_IPPROTO_UDP = const(17)
_IPPROTO_IPV6 = const(41)
_SOL_SOCKET = const(0xFFFF)
_FIONBIO = const(0x8004667E)
_FIONREAD = const(0x4004667F)
_SIOCATMARK = const(0x40047307)
_SIO_SET_SOCKET_HANDLE = const(0xD8000004)  # ws2's own: re-homing gives this socket a new handle (ws2/rehome)

# _Sock.state bits (copies of the core's)
_V6 = const(0x1)
_DGRAM = const(0x2)
_BOUND = const(0x4)
_LISTENING = const(0x8)
_CONNECTED = const(0x10)
_SHUT_RD = const(0x40)
_DEAD = const(0x400)
_O_REUSE = const(0x800)
_O_KEEPALIVE = const(0x1000)
_O_BROADCAST = const(0x2000)
_O_NODELAY = const(0x4000)
_O_NOMLOOP = const(0x8000)

# option ids (internal), from (level, name) by _opt(); 1..10 may have a native equivalent
_K_REUSE = const(1)
_K_KEEPALIVE = const(2)
_K_BROADCAST = const(3)
_K_LINGER = const(4)
_K_NODELAY = const(5)
_K_MIF = const(6)
_K_MTTL = const(7)
_K_MLOOP = const(8)
_K_ADD = const(9)  # 9 and 10 cannot be read
_K_DROP = const(10)
_K_DONTLINGER = const(11)
_K_RCVTIMEO = const(12)
_K_SNDTIMEO = const(13)
_K_RCVBUF = const(14)
_K_SNDBUF = const(15)
_K_ERROR = const(16)  # 16 and up cannot be set
_K_TYPE = const(17)
_K_PINFO = const(18)
_K_ACCEPTCONN = const(19)
_K_MAXMSG = const(20)
# Option ids 1..10: the port's constant name, and the number to use when the
# unix port does not export the name (it passes any number to the kernel).
_NAT_NAME = ("SO_REUSEADDR", "SO_KEEPALIVE", "SO_BROADCAST", "SO_LINGER", "TCP_NODELAY", "IP_MULTICAST_IF",
             "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP", "IP_ADD_MEMBERSHIP", "IP_DROP_MEMBERSHIP")
_NAT_LINUX = b"\x02\x09\x06\x0d\x01\x20\x21\x22\x23\x24"
_NAT_BSD = b"\x04\x08\x20\x80\x01\x09\x0a\x0b\x0c\x0d"
_DARWIN = sys.platform == "darwin"

_PEEK_CAP = const(1500)  # FIONREAD on MicroPython peeks at most this much
_DEFAULT_BUF = const(8192)  # SO_RCVBUF/SO_SNDBUF report (CE's default); kept, not applied


# -- options ------------------------------------------------------------------------------------

def _nat_opt(k):
    """The port's native (level, name) for option id k, or None when the port lacks it (then it is kept here)."""
    if not _K_REUSE <= k <= _K_DROP:
        return None
    v = getattr(_so, _NAT_NAME[k - 1], None)
    if v is None:
        if not _w._KERNEL:
            return None
        v = (_NAT_BSD if _DARWIN else _NAT_LINUX)[k - 1]
    if k <= _K_LINGER:
        return getattr(_so, "SOL_SOCKET", 0xFFFF if _DARWIN else 1), v
    if k == _K_NODELAY:
        return getattr(_so, "IPPROTO_TCP", 6), v
    return getattr(_so, "IPPROTO_IP", 0), v


def _set_native(c, k, value):
    nat = _nat_opt(k)
    if nat is not None and not c.state & _DEAD:
        try:
            c.sk.setsockopt(nat[0], nat[1], value)
        except OSError as e:
            raise _w._fail(e, 0)


def _set_mreq(sk, nat, key):
    # rp2 wants the buffer to be two lwIP ip_addr_t long (8, 40 or 48 bytes
    # with IPv6 built in) but reads only the first 8: try the lengths in turn.
    for pad in (0, 32, 40):
        try:
            sk.setsockopt(nat[0], nat[1], key + bytes(pad) if pad else key)
            return
        except ValueError:
            if _w._KERNEL:
                raise
    raise WSAError(WSAEINVAL, "membership refused")


def _linger_struct(onoff, secs):
    # struct linger {int l_onoff; int l_linger;} of the host C library
    return onoff.to_bytes(4, sys.byteorder) + secs.to_bytes(4, sys.byteorder)


def linger_reset(sk):
    """SO_LINGER {1, 0} on a native socket where the port can, so that closing it resets the connection."""
    nat = _nat_opt(_K_LINGER)
    if nat is not None:
        try:
            sk.setsockopt(nat[0], nat[1], _linger_struct(1, 0))
        except OSError:
            pass


def _opt(c, level, name):
    """The internal id of option (level, name) on c; WSAEINVAL for an unknown level, WSAENOPROTOOPT for an option."""
    if type(level) is not int or type(name) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    dgram = c.state & _DGRAM
    k = 0
    if level == _SOL_SOCKET:
        if name == 0x0004:
            k = _K_REUSE
        elif name == 0x0008:
            k = 0 if dgram else _K_KEEPALIVE
        elif name == 0x0020:
            k = _K_BROADCAST if dgram else 0
        elif name == 0x0080:
            k = 0 if dgram else _K_LINGER
        elif name == -129 or name == 0xFFFFFF7F:  # SO_DONTLINGER = ~SO_LINGER
            k = 0 if dgram else _K_DONTLINGER
        elif 0x1001 <= name <= 0x1008:
            k = (_K_SNDBUF, _K_RCVBUF, 0, 0, _K_SNDTIMEO, _K_RCVTIMEO, _K_ERROR, _K_TYPE)[name - 0x1001]
        elif name == 0x0002:
            k = _K_ACCEPTCONN
        elif name == 0x2003:
            k = _K_MAXMSG if dgram else 0
        elif name == 0x2004 or name == 0x2005:  # SO_PROTOCOL_INFOA / W: one Python type for both
            k = _K_PINFO
    elif level == _IPPROTO_TCP:
        if name == 0x0001 and not dgram:
            k = _K_NODELAY
    elif level == _IPPROTO_IP:
        if 9 <= name <= 13 and dgram and not c.state & _V6:
            k = (_K_MIF, _K_MTTL, _K_MLOOP, _K_ADD, _K_DROP)[name - 9]
    elif level != _IPPROTO_UDP and level != _IPPROTO_IPV6:
        raise WSAError(WSAEINVAL, "level %d" % level)
    if not k:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d" % (level, name))
    return k


def _bit_opt(k):
    if k == _K_REUSE:
        return _O_REUSE
    if k == _K_KEEPALIVE:
        return _O_KEEPALIVE
    if k == _K_BROADCAST:
        return _O_BROADCAST
    if k == _K_NODELAY:
        return _O_NODELAY
    return 0


def _dword(v, what):
    """An int option/ioctl value: int, bool, or 4+ little-endian bytes; WSAEFAULT otherwise."""
    if type(v) is int or type(v) is bool:
        return int(v)
    if isinstance(v, (bytes, bytearray, memoryview)) and len(v) >= 4:
        return int.from_bytes(bytes(v[:4]), "little")
    raise WSAError(WSAEFAULT, "%s: not an int" % what)


def _protocol_info(c):
    # The catalog entry the socket was made for, with the socket's own triple.
    from ws2 import catalog
    from ws2.protocol_info import WSAProtocolInfo, from_tuple

    e = catalog.by_id(c.catalog_id)
    p = from_tuple(e) if e is not None else WSAProtocolInfo(catalog_entry_id=c.catalog_id)
    p.address_family = _AF_INET6 if c.state & _V6 else _AF_INET
    p.socket_type = _SOCK_DGRAM if c.state & _DGRAM else _SOCK_STREAM
    p.protocol = _IPPROTO_UDP if c.state & _DGRAM else _IPPROTO_TCP
    return p


def _so_error(c):
    # SO_ERROR: read and clear; a pending non-blocking connect is asked how it went.
    _w._probe(c)
    e = c.error
    if not e and not _w._MICROPYTHON and not c.state & _DEAD:
        n = c.sk.getsockopt(_so.SOL_SOCKET, _so.SO_ERROR)
        if n:
            e = wsa_code(OSError(n))
    c.error = 0
    return e


def WSPGetSockOpt(c, level, name):
    """Read a socket option (Winsock numbering; BOOLs as 0/1, SO_LINGER as (onoff, seconds))."""
    k = _opt(c, level, name)
    st = c.state
    b = _bit_opt(k)
    if b:
        return 1 if st & b else 0
    x = c.extra or {}
    if k == _K_LINGER:
        return x.get("linger", (0, 0))
    if k == _K_DONTLINGER:
        return 0 if x.get("linger", (0, 0))[0] else 1
    if k == _K_RCVTIMEO:
        return c.rcvtimeo
    if k == _K_SNDTIMEO:
        return c.sndtimeo
    if k == _K_ERROR:
        return _so_error(c)
    if k == _K_TYPE:
        return _SOCK_DGRAM if st & _DGRAM else _SOCK_STREAM
    if k == _K_PINFO:
        return _protocol_info(c)
    if k == _K_ACCEPTCONN:
        return 1 if st & _LISTENING else 0
    if k == _K_RCVBUF:
        return x.get("rcvbuf", _DEFAULT_BUF)
    if k == _K_SNDBUF:
        return x.get("sndbuf", _DEFAULT_BUF)
    if k == _K_MAXMSG:
        return _w._max_dgram(c)
    if k == _K_MIF:
        return x.get("mif", "0.0.0.0")
    if k == _K_MTTL:
        return x.get("ttl", 1)
    if k == _K_MLOOP:
        return 0 if st & _O_NOMLOOP else 1
    raise WSAError(WSAENOPROTOOPT, "option %d/%d is write-only" % (level, name))


def _mreq(value):
    # ip_mreq as 8 bytes (group, interface): from (group, iface) text or the raw 8 bytes.
    if type(value) is tuple and len(value) == 2 and type(value[0]) is str and type(value[1]) is str:
        g = _w._ip4(value[0])
        i = _w._ip4(value[1]) if value[1] else bytes(4)
        if g is None or i is None:
            raise WSAError(WSAEINVAL, "bad ip_mreq")
        return g + i
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) >= 8:
        return bytes(value[:8])
    raise WSAError(WSAEFAULT, "bad ip_mreq")


def _membership(c, k, value):
    key = _mreq(value)
    if not 224 <= key[0] <= 239:
        raise WSAError(WSAEINVAL, "not a group")
    x = extra(c)
    groups = x.get("groups") or []
    if k == _K_ADD:
        if key in groups:
            raise WSAError(WSAEADDRINUSE, "already a member")
    elif key not in groups:
        raise WSAError(WSAEADDRNOTAVAIL, "not a member")
    nat = _nat_opt(k)
    if nat is not None and not c.state & _DEAD:
        try:
            _set_mreq(c.sk, nat, key)
        except OSError as e:
            raise _w._fail(e, 0)
    if k == _K_ADD:
        groups.append(key)
    else:
        groups.remove(key)
    x["groups"] = groups
    return 0


def WSPSetSockOpt(c, level, name, value):
    """Set a socket option; what the port cannot apply is kept and reported back by WSPGetSockOpt."""
    k = _opt(c, level, name)
    if k >= _K_ERROR:
        raise WSAError(WSAENOPROTOOPT, "option %d/%d is read-only" % (level, name))
    if k == _K_ADD or k == _K_DROP:
        return _membership(c, k, value)
    if k == _K_LINGER or k == _K_DONTLINGER:
        old = (c.extra or {}).get("linger", (0, 0))
        if k == _K_DONTLINGER:
            v = (0 if _dword(value, "SO_DONTLINGER") else 1, old[1])
        elif type(value) in (tuple, list) and len(value) == 2:
            v = (value[0], value[1])
            if type(v[0]) is not int or type(v[1]) is not int:
                raise WSAError(WSAEFAULT, "bad SO_LINGER")
        else:
            d = _dword(value, "SO_LINGER")  # struct linger: two little-endian u_shorts
            v = (d & 0xFFFF, d >> 16)
        if not 0 <= v[1] <= 0xFFFF or v[0] < 0:
            raise WSAError(WSAEINVAL, "bad SO_LINGER")
        v = (1 if v[0] else 0, v[1])
        _set_native(c, _K_LINGER, _linger_struct(v[0], v[1]))
        extra(c)["linger"] = v
        return 0
    if k == _K_MIF:
        if type(value) is str:
            b = _w._ip4(value) if value else bytes(4)
        elif isinstance(value, (bytes, bytearray)) and len(value) == 4:
            b = bytes(value)
        else:
            raise WSAError(WSAEFAULT, "bad interface")
        if b is None:
            raise WSAError(WSAEINVAL, "bad interface")
        _set_native(c, k, b)
        extra(c)["mif"] = _w._fmt4(b)
        return 0
    v = _dword(value, "the option")
    b = _bit_opt(k)
    if b:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state | b) if v else (c.state & ~b)
        return 0
    if not 0 <= v <= 0xFFFFFFFF:
        raise WSAError(WSAEINVAL, "value %d" % v)
    if k == _K_RCVTIMEO:
        c.rcvtimeo = v
    elif k == _K_SNDTIMEO:
        c.sndtimeo = v
    elif k == _K_RCVBUF:
        extra(c)["rcvbuf"] = v
    elif k == _K_SNDBUF:
        extra(c)["sndbuf"] = v
    elif k == _K_MTTL:
        if v > 255:
            raise WSAError(WSAEINVAL, "TTL")
        _set_native(c, k, v)
        extra(c)["ttl"] = v
    elif k == _K_MLOOP:
        _set_native(c, k, 1 if v else 0)
        c.state = (c.state & ~_O_NOMLOOP) if v else (c.state | _O_NOMLOOP)
    return 0


# -- ioctls -------------------------------------------------------------------------------------

def _peek(c, n, nf):
    # Up to n bytes a receive would return, without waiting or consuming them; None when nothing is there.
    if c.mode != -1:
        _w._set_mode(c, -1)
    try:
        if c.state & _DGRAM:
            return c.sk.recvfrom(n, nf)[0]
        return c.sk.recv(n, nf)
    except OSError:
        return None


def _fionread(c):
    st = c.state
    if st & (_DEAD | _LISTENING | _SHUT_RD) or not st & (_CONNECTED | _BOUND):
        return 0
    if not _w._MICROPYTHON:
        try:
            import fcntl
            import struct
            import termios

            return struct.unpack("i", fcntl.ioctl(c.sk.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        except (ImportError, OSError):
            pass
    try:
        data = _peek(c, _PEEK_CAP, _w._NATIVE_PEEK)
    except TypeError:  # recv without flags (older rp2 firmware): say whether anything is there
        import select

        p = select.poll()
        p.register(c.sk, select.POLLIN)
        return 1 if p.poll(0) else 0
    return len(data) if data else 0


def WSPIoctl(c, code, in_data, out_len):
    """FIONBIO (any form), FIONREAD, SIOCATMARK; WSAEINVAL for what is no ioctl, WSAEOPNOTSUPP for SIO_* codes."""
    if type(code) is not int:
        raise WSAError(WSAEINVAL, "not an int")
    code &= 0xFFFFFFFF  # ioctlsocket's cmd is a C long: accept it signed
    if code == _FIONBIO:
        return _w.WSPIoctl(c, code, _dword(in_data, "FIONBIO"), out_len, None, None, None)
    if code == _FIONREAD:
        return _fionread(c)
    if code == _SIO_SET_SOCKET_HANDLE:
        # ws2.rehome put a layer over this socket: from now on it answers to the handle given.
        if c.refs > 1 or type(in_data) is not int:
            raise WSAError(WSAEOPNOTSUPP, "a shared socket keeps its handles")
        old = c.handle
        c.handle = in_data
        return old
    if code == _SIOCATMARK:
        # TRUE when no urgent data waits (SO_OOBINLINE is off); only kernels have urgent data.
        if not _w._NATIVE_OOB or c.state & (_DGRAM | _DEAD) or not c.state & _CONNECTED:
            return 1
        return 0 if _peek(c, 1, _w._NATIVE_OOB | _w._NATIVE_PEEK) else 1
    if (code >> 27) & 3:
        # A Winsock 2 SIO_* code (IOC_WS2, IOC_PROTOCOL, IOC_VENDOR) this provider cannot realise.
        raise WSAError(WSAEOPNOTSUPP, "ioctl 0x%x" % code)
    raise WSAError(WSAEINVAL, "ioctl 0x%x" % code)


# -- kept state, duplication ------------------------------------------------------------------

def extra(c):
    """c's dict of rarely set state, made on first use."""
    x = c.extra
    if x is None:
        x = c.extra = {}
    return x


def inherit(c, n):
    """Copy a listener's kept options to an accepted socket."""
    for k in ("linger", "rcvbuf", "sndbuf"):
        if k in c.extra:
            extra(n)[k] = c.extra[k]


def close_extra(c):
    """Dispose of what lives beside a native socket: a deferred connection, lwIP group memberships."""
    x = c.extra
    d = x.pop("defer", None)
    if d is not None:
        d[0].close()
    if not _w._KERNEL and x.get("groups"):
        # lwIP's memberships belong to the interface, not the socket: leave them.
        nat = _nat_opt(_K_DROP)
        for key in x["groups"]:
            if nat is not None and not c.state & _DEAD:
                try:
                    _set_mreq(c.sk, nat, key)
                except Exception:
                    pass
    x["groups"] = None


def WSPDuplicateSocket(c, thread_id):
    """A WSAProtocolInfo from which WSPSocket opens another handle on this socket (shared sockets)."""
    p = _protocol_info(c)
    key = id(c) & 0x3FFFFFFF or 1
    _w._dups[key] = c
    p.provider_reserved = key
    return p
