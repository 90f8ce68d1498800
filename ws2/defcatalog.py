# ws2/defcatalog: the board's default protocol catalog (what CE's ws2instl installs at first boot).
# MIT licence; part of ws2 for MicroPython.
import sys

WSPM_ID = "{AAFC3764-763B-427B-B15B-97A6E5C983CE}"
WSPM_PATH = "providers.wspm"
SSLLSP_ID = "{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}"  # ws2's own: CE's ssllsp GUID is not public
SSLLSP_PATH = "providers.ssllsp"
_TCP_FLAGS = 0x26  # XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
_UDP_FLAGS = 0x609  # XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST | XP1_SUPPORT_MULTIPOINT
_PFL_MATCHES_PROTOCOL_ZERO = 0x08
_PFL_HIDDEN = 0x04


def has_ipv6():
    """True when the port's socket layer handles IPv6 addresses (not esp32, see docs/ports.md)."""
    return sys.platform != "esp32"


def _entry(cat_id, sf1, af, typ, proto, sa, msg, name, pid=WSPM_ID, chain=None, pfl=_PFL_MATCHES_PROTOCOL_ZERO,
           security=0):
    # WSAPROTOCOL_INFOW order: flags1-4, provider flags, provider id, catalog id,
    # chain, version, af, max/min sockaddr, type, protocol, max offset,
    # byte order, security scheme, message size, reserved, name.
    return (sf1, 0, 0, 0, pfl, pid, cat_id, (cat_id,) if chain is None else chain, 2, af, sa, sa,
            typ, proto, 0, 0, security, msg, 0, name)


def default_catalog():
    """Return (entries, paths, next_id) of the board's default catalog."""
    e = [
        _entry(1001, _TCP_FLAGS, 2, 1, 6, 16, 0, "MicroPython Tcpip [TCP/IP]"),
        _entry(1002, _UDP_FLAGS, 2, 2, 17, 16, 65467, "MicroPython Tcpip [UDP/IP]"),
    ]
    if has_ipv6():
        e.append(_entry(1003, _TCP_FLAGS, 23, 1, 6, 28, 0, "MicroPython Tcpip [TCP/IPv6]"))
        e.append(_entry(1004, _UDP_FLAGS, 23, 2, 17, 28, 65527, "MicroPython Tcpip [UDP/IPv6]"))
    # ssllsp: its layer entry and one chain per TCP entry, placed AFTER the base
    # entries, so socket(AF_INET, SOCK_STREAM, 0) stays a plain wspm socket (one
    # handle, no extra layer on every call, ssllsp never loaded); TLS is
    # asked for with the chain's protocol info, or the CE way with SO_SECURE on a
    # plain socket, which the router then moves onto the chain (ws2/secure).
    e.append(_entry(1005, _TCP_FLAGS, 2, 1, 6, 16, 0, "ws2 SSL layer [ssllsp]", SSLLSP_ID, (), _PFL_HIDDEN))
    e.append(_entry(1006, _TCP_FLAGS, 2, 1, 6, 16, 0, "MicroPython SSL over Tcpip [TCP/IP]", SSLLSP_ID,
                    (1005, 1001), _PFL_MATCHES_PROTOCOL_ZERO, 1))
    if has_ipv6():
        e.append(_entry(1007, _TCP_FLAGS, 23, 1, 6, 28, 0, "MicroPython SSL over Tcpip [TCP/IPv6]", SSLLSP_ID,
                        (1005, 1003), _PFL_MATCHES_PROTOCOL_ZERO, 1))
    return e, {WSPM_ID: WSPM_PATH, SSLLSP_ID: SSLLSP_PATH}, 1008
