# ws2/settings: ws2.config(), the board's runtime settings, stored power-safe like the catalog.
# MIT licence; part of ws2 for MicroPython.
import json

from ws2 import store
from ws2.errors import WSAError, WSAEINVAL

_FILE = "settings"
_DEFAULTS = {"dns_servers": [], "dns_timeout_ms": 2000, "hosts": {}, "tls_ca_file": "", "max_sockets": 0,
             "tls_verify": "app", "capture": {}, "faults": {}}
# Settings of optional layers, checked by the layer's own module (imported only to check them).
_CHECKERS = {"capture": "providers.capsink", "faults": "providers.faultplan"}
# What a good value looks like, for the error message (one string: stays in flash when frozen).
_SHAPES = """dns_servers a list of (numeric ip, port 1-65535)
hosts a dict of name -> numeric address
tls_ca_file a path string
dns_timeout_ms an int from 0 (provider default) to 600000
max_sockets an int from 0 (board default) to 255
tls_verify "app" (the application may ask for CERT_NONE) or "always"
"""
_current = None


def _shape(key):
    i = _SHAPES.find(key + " ")
    return _SHAPES[i + len(key) + 1 : _SHAPES.find("\n", i)]


def _numeric(a):
    from ws2 import inaddr  # the small parser name resolution loads anyway

    return isinstance(a, str) and (inaddr.ip4(a) is not None or inaddr.pton6(a) is not None)


def _is_server(a):
    return (isinstance(a, (list, tuple)) and len(a) == 2 and _numeric(a[0])
            and isinstance(a[1], int) and not isinstance(a[1], bool) and 0 < a[1] < 65536)


def _int_in(v, top):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top


def validate(key, value):
    """Return value normalised for key, or raise WSAEINVAL saying what is wrong."""
    if not isinstance(key, str) or key not in _DEFAULTS:
        raise WSAError(WSAEINVAL, "unknown setting %r (known: %s)" % (key, ", ".join(sorted(_DEFAULTS))))
    if key in _CHECKERS:
        if value == {}:  # off: nothing for the layer's checker to read, so its code is not loaded
            return {}
        import sys

        from ws2.provider import drop_module

        name = _CHECKERS[key]
        had = [m for m in sys.modules if m.startswith("providers.")]
        try:
            m = __import__(name, None, None, ["check"])
        except ImportError:
            raise WSAError(WSAEINVAL, "setting %s needs %s, which is not installed" % (key, name))
        try:
            return m.check(value)
        finally:
            # Checking a setting must not keep the layer's code in RAM: the checker and what it imported
            # (capsink brings pcap) are forgotten again.
            for m in [m for m in sys.modules if m.startswith("providers.") and m not in had]:
                drop_module(m)
    if key == "dns_servers":
        ok = isinstance(value, (list, tuple)) and all(_is_server(a) for a in value)
        if ok:
            value = [[a[0], a[1]] for a in value]
    elif key == "hosts":
        ok = isinstance(value, dict) and all(isinstance(k, str) and k and _numeric(value[k]) for k in value)
        if ok:
            value = dict(value)
    elif key == "tls_ca_file":
        ok = isinstance(value, str)
    elif key == "tls_verify":
        ok = value in ("app", "always")
    elif key == "dns_timeout_ms":
        ok = _int_in(value, 600000)
    else:
        ok = _int_in(value, 255)
    if not ok:
        raise WSAError(WSAEINVAL, "setting %s must be %s, not %r" % (key, _shape(key), value))
    return value


def _load():
    global _current
    cur = dict(_DEFAULTS)
    payload = store.load(_FILE)
    if payload is not None:
        try:
            got = json.loads(payload)
            if not isinstance(got, dict):
                raise ValueError("not a dict")
        except Exception as e:
            print("ws2: warning: settings unreadable (%r); using defaults" % (e,))
            got = {}
        for k in got:
            try:  # one bad value costs that setting, not all of them
                cur[k] = validate(k, got[k])
            except WSAError as e:
                print("ws2: warning: stored setting ignored: %s" % e.args[1])
    elif store.exists(_FILE):
        print("ws2: warning: settings file is corrupt; using defaults")
    _current = cur
    return cur


def get(key):
    """Return one setting's current value."""
    cur = _current if _current is not None else _load()
    return cur.get(key)


def config(**settings):
    """Update the given settings (validated, stored power-safe) and return all current settings."""
    global _current
    try:
        cur = dict(_current if _current is not None else _load())
        for k in settings:
            cur[k] = validate(k, settings[k])
        if settings:
            store.save(_FILE, json.dumps(cur).encode())
            _current = cur
        return dict(cur)
    except Exception as e:
        from ws2.dispatch import fail

        raise fail(e)


def forget():
    """Drop the in-memory copy so the next read comes from flash (tests, soft reset)."""
    global _current
    _current = None


def reset():
    """Forget the stored settings and go back to the defaults (tests, factory reset)."""
    store.remove(_FILE)
    forget()
