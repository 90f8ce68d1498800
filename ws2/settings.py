# ws2/settings: ws2.config(), the board's runtime settings, stored power-safe like the catalog.
# MIT licence; part of ws2 for MicroPython.
import json

from ws2 import store
from ws2.errors import WSAError, WSAEINVAL

_FILE = "settings"
# key -> (type, check, what a good value looks like)
_DEFAULTS = {"dns_servers": [], "dns_timeout_ms": 2000, "hosts": {}, "tls_ca_file": "", "max_sockets": 0}
_current = None


def _is_addr(a):
    return (isinstance(a, (list, tuple)) and len(a) == 2 and isinstance(a[0], str)
            and isinstance(a[1], int) and 0 < a[1] < 65536)


def validate(key, value):
    """Return value normalised for key, or raise WSAEINVAL saying what is wrong."""
    if key not in _DEFAULTS:
        raise WSAError(WSAEINVAL, "unknown setting %r (known: %s)" % (key, ", ".join(sorted(_DEFAULTS))))
    bad = False
    if key == "dns_servers":
        bad = not isinstance(value, (list, tuple)) or not all(_is_addr(a) for a in value)
        if not bad:
            value = [[a[0], a[1]] for a in value]
    elif key == "hosts":
        bad = not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    elif key == "tls_ca_file":
        bad = not isinstance(value, str)
    else:  # dns_timeout_ms, max_sockets
        bad = not isinstance(value, int) or isinstance(value, bool) or value < 0
        if key == "max_sockets" and not bad:
            bad = value > 255
    if bad:
        shapes = {"dns_servers": "a list of (ip, port)", "hosts": "a dict of name -> address",
                  "tls_ca_file": "a path string", "dns_timeout_ms": "an int >= 0",
                  "max_sockets": "an int from 0 (board default) to 255"}
        raise WSAError(WSAEINVAL, "setting %s must be %s, not %r" % (key, shapes[key], value))
    return value


def _load():
    global _current
    cur = dict(_DEFAULTS)
    payload = store.load(_FILE)
    if payload is not None:
        try:
            for k, v in json.loads(payload).items():
                cur[k] = validate(k, v)
        except Exception as e:
            print("ws2: warning: settings unreadable (%s); using defaults" % (e,))
    _current = cur
    return cur


def get(key):
    """Return one setting's current value."""
    cur = _current if _current is not None else _load()
    return cur.get(key)


def config(**settings):
    """Update the given settings (validated, stored power-safe) and return all current settings."""
    global _current
    cur = dict(_current if _current is not None else _load())
    for k in settings:
        cur[k] = validate(k, settings[k])
    if settings:
        store.save(_FILE, json.dumps(cur).encode())
        _current = cur
    return dict(cur)


def forget():
    """Drop the in-memory copy so the next read comes from flash (tests, soft reset)."""
    global _current
    _current = None
