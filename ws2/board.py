# ws2/board: what the running port can hold, by sys.platform (mirrors boards/*/board.json).
# MIT licence; part of ws2 for MicroPython.
import sys

from ws2.port import const

# Handle-table capacity per port: lwIP's own socket limit, since a router
# handle without a socket underneath is useless (esp32 CONFIG_LWIP_MAX_SOCKETS
# = 10; rp2 has 5 TCP + ~8 listen pcbs; unix and CPython are host-limited).
_CAPACITY = (("esp32", 10), ("rp2", 8), ("linux", 32), ("darwin", 32))
# UDP sockets a port holds at once where that is fewer than its handle table:
# rp2's lwIP has 5 UDP pcbs, of which the mDNS responder keeps one from boot
# and the DHCP client one while Wi-Fi is joined (board.json max_udp_sockets).
_UDP = (("rp2", 3),)
MAX_CAPACITY = const(255)  # the slot field of a handle is 8 bits
IS_MICROPYTHON = sys.implementation.name == "micropython"


def default_capacity():
    """Return the handle-table capacity for this port."""
    p = sys.platform
    for name, n in _CAPACITY:
        if p == name:
            return n if IS_MICROPYTHON else 64
    return 64


def max_udp_sockets():
    """Return how many UDP sockets this port can hold at once."""
    if IS_MICROPYTHON:
        for name, n in _UDP:
            if sys.platform == name:
                return n
    return default_capacity()


def root():
    """Return the directory where ws2 keeps its catalog and settings."""
    import os

    if IS_MICROPYTHON:
        env = getattr(os, "getenv", None)
        if env is None:
            # A board. Not "/ws2": sys.path starts with '' and the cwd is "/",
            # so a data directory named like the package would be imported as
            # a (namespace) package in place of /lib/ws2 or the frozen one at
            # the next boot. A dotted name can never be imported.
            return "/.ws2"
        # The unix port shares the host's filesystem with every other program:
        # a per-user place (the virtual board sets WS2_ROOT=/.ws2, which is
        # inside its flash directory, so it keeps a board's layout).
        return env("WS2_ROOT") or (env("HOME") or "") + "/.ws2"
    return os.environ.get("WS2_ROOT") or os.path.join(os.path.expanduser("~"), ".ws2")
