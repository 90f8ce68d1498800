# ws2/instl: the board's default catalog (what CE's ws2instl installs at first boot).
# MIT licence; part of ws2 for MicroPython.
import sys

WSPM_ID = "{AAFC3764-763B-427B-B15B-97A6E5C983CE}"
WSPM_PATH = "providers.wspm"
_TCP_FLAGS = 0x26  # XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
_UDP_FLAGS = 0x609  # XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST | XP1_SUPPORT_MULTIPOINT
_PFL_MATCHES_PROTOCOL_ZERO = 0x08


def has_ipv6():
    """True when the port's socket layer handles IPv6 addresses (not esp32, see MICROPYTHON.md 1.8)."""
    return sys.platform != "esp32"


def _entry(cat_id, sf1, af, typ, proto, sa, msg, name):
    # WSAPROTOCOL_INFOW order: flags1-4, provider flags, provider id, catalog id,
    # chain, version, af, max/min sockaddr, type, protocol, max offset,
    # byte order, security scheme, message size, reserved, name.
    return (sf1, 0, 0, 0, _PFL_MATCHES_PROTOCOL_ZERO, WSPM_ID, cat_id, (cat_id,), 2, af, sa, sa,
            typ, proto, 0, 0, 0, msg, 0, name)


def default_catalog():
    """Return (entries, paths, next_id) of the board's default catalog."""
    e = [
        _entry(1001, _TCP_FLAGS, 2, 1, 6, 16, 0, "MicroPython Tcpip [TCP/IP]"),
        _entry(1002, _UDP_FLAGS, 2, 2, 17, 16, 65467, "MicroPython Tcpip [UDP/IP]"),
    ]
    if has_ipv6():
        e.append(_entry(1003, _TCP_FLAGS, 23, 1, 6, 28, 0, "MicroPython Tcpip [TCP/IPv6]"))
        e.append(_entry(1004, _UDP_FLAGS, 23, 2, 17, 28, 65527, "MicroPython Tcpip [UDP/IPv6]"))
    return e, {WSPM_ID: WSPM_PATH}, 1005
