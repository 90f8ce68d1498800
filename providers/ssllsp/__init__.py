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
# The modules (certs and the port's engine are loaded with the first SO_SECURE):
#   sock        the socket calls (plain pass-through until SO_SECURE) and the SO_SSL_* ioctls
#   conn        one connection: its context, state bits, the engine driver
#   certs       CA bundles, certificates, the TLS context, the validation hook
#   engine_mp   mbedTLS through MicroPython's tls module (MicroPython only)
#   engine_cpy  OpenSSL through CPython's ssl module (CPython only)
import sys

from providers import layer
from providers.ssllsp.sock import (NAME, WSPAccept, WSPAdoptSocket, WSPCloseSocket, WSPConnect, WSPGetSockOpt,
                                   WSPIoctl, WSPListen, WSPRecv, WSPRecvFrom, WSPSelect, WSPSend, WSPSendTo,
                                   WSPSetSockOpt, WSPSocket, down)
from ws2.port import const

_WSP_ACCEPT = const(0)
_WSP_CLEANUP = const(5)
_WSP_CLOSESOCKET = const(6)
_WSP_CONNECT = const(7)
_WSP_GETSOCKOPT = const(14)
_WSP_IOCTL = const(16)
_WSP_JOINLEAF = const(17)
_WSP_LISTEN = const(18)
_WSP_RECV = const(19)
_WSP_RECVFROM = const(21)
_WSP_SELECT = const(22)
_WSP_SEND = const(23)
_WSP_SENDTO = const(25)
_WSP_SETSOCKOPT = const(26)
_WSP_SOCKET = const(28)

_starts = layer.Starts("ws2 ssllsp TLS layer")


def WSPCleanup():
    """Drop one WSPStartup reference; the last one lets the router forget the whole package."""
    if not _starts.stop():
        for name in [n for n in sys.modules if n.startswith(__name__ + ".")]:
            del sys.modules[name]  # the router drops providers.ssllsp itself, the submodules go with it
    return 0


# Slots not named here pass down (refused once the TLS session has failed); the address slots go to the
# chain's next provider; WSPCancelBlockingCall, WSPDuplicateSocket and WSPJoinLeaf are refused.
_TABLE = layer.table({_WSP_ACCEPT: WSPAccept, _WSP_CLEANUP: WSPCleanup, _WSP_CLOSESOCKET: WSPCloseSocket,
                      _WSP_CONNECT: WSPConnect, _WSP_GETSOCKOPT: WSPGetSockOpt, _WSP_IOCTL: WSPIoctl,
                      _WSP_JOINLEAF: layer.unsupported, _WSP_LISTEN: WSPListen, _WSP_RECV: WSPRecv,
                      _WSP_RECVFROM: WSPRecvFrom, _WSP_SELECT: WSPSelect, _WSP_SEND: WSPSend,
                      _WSP_SENDTO: WSPSendTo, _WSP_SETSOCKOPT: WSPSetSockOpt, _WSP_SOCKET: WSPSocket},
                     NAME, down)


def WSPStartup(version, info, upcalls):
    """Provider entry point: returns ((version, high_version, description), proc table)."""
    return _starts.start(version, upcalls, _TABLE)
