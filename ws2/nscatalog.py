# ws2/nscatalog: the namespace provider catalog and its file (the WSC* calls are ws2/nsinstall's).
# MIT licence; part of ws2 for MicroPython.
#
# Kept like the protocol catalog: a list of tuples in catalog order (the order
# NS_ALL queries providers in), a pure JSON codec tested byte by byte, and
# ws2.store's two-slot power-safe file. The default catalog is CE's: nspm
# serving NS_DNS.
import json

from ws2 import store
from ws2.errors import WSAError, WSAEINVAL
from ws2.port import const

# Indices into a catalog tuple
I_IDENTIFIER = const(0)
I_PATH = const(1)
I_NAMESPACE = const(2)
I_VERSION = const(3)
I_PROVIDER_ID = const(4)
I_ACTIVE = const(5)
_FILE = "nscatalog"
_FORMAT = const(1)
NSPM_ID = "{3C8441D3-B4F9-4EA0-8974-F4C349665191}"
NSPM_PATH = "providers.nspm"
_NS_DNS = const(12)

entries = []
loaded = False


def default_entries():
    """Return the board's default namespace catalog."""
    return [("NSPM DNS", NSPM_PATH, _NS_DNS, 1, NSPM_ID, True)]


def guid(value):
    """Return a provider id normalised to '{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}', or raise WSAEINVAL."""
    if isinstance(value, str):
        s = value.upper()
        if len(s) == 36:
            s = "{" + s + "}"
        if len(s) == 38 and s[0] == "{" and s[37] == "}":
            ok = True
            for i in range(1, 37):
                c = s[i]
                if i in (9, 14, 19, 24):
                    ok = ok and c == "-"
                else:
                    ok = ok and ("0" <= c <= "9" or "A" <= c <= "F")
            if ok:
                return s
    raise WSAError(WSAEINVAL, "provider id must be a GUID string like %s, not %r" % (NSPM_ID, value))


def check(e):
    """Validate one catalog tuple; raise WSAEINVAL naming what is wrong."""
    if not isinstance(e, tuple) or len(e) != 6:
        raise WSAError(WSAEINVAL, "a namespace entry has 6 fields")
    ident, path, ns, ver, pid, active = e
    if not isinstance(ident, str) or not ident:
        raise WSAError(WSAEINVAL, "identifier must be a non-empty str")
    if not isinstance(path, str) or not path or " " in path or path.startswith(".") or path.endswith("."):
        raise WSAError(WSAEINVAL, "path must be a module import path such as providers.nspm, not %r" % (path,))
    for v, what in ((ns, "namespace"), (ver, "version")):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise WSAError(WSAEINVAL, "%s must be an int >= 0, not %r" % (what, v))
    if ns == 0:
        raise WSAError(WSAEINVAL, "NS_ALL (0) names every namespace; a provider serves one such as NS_DNS")
    guid(pid)
    if not isinstance(active, bool):
        raise WSAError(WSAEINVAL, "active must be a bool")
    return e


# -- the file: pure codec ---------------------------------------------------------

def encode(entries):
    """Return the namespace catalog file payload."""
    return json.dumps({"format": _FORMAT, "entries": [list(e) for e in entries]}).encode()


def decode(payload):
    """Return the entries of a payload; ValueError when it is not a namespace catalog."""
    try:
        d = json.loads(payload)
        if d["format"] != _FORMAT:
            raise ValueError("namespace catalog format %r" % d["format"])
        out = []
        seen = []
        for e in d["entries"]:
            e = check(tuple(e))
            if e[I_PROVIDER_ID] in seen:
                raise ValueError("provider %s listed twice" % e[I_PROVIDER_ID])
            seen.append(e[I_PROVIDER_ID])
            out.append(e)
        return out
    except ValueError:
        raise
    except Exception as e:  # KeyError, TypeError, WSAError from check(): all "corrupt"
        raise ValueError("corrupt namespace catalog: %r" % (e,))


def load():
    """Load the namespace catalog from flash, falling back to the default."""
    global entries, loaded
    payload = store.load(_FILE)
    new = None
    if payload is not None:
        try:
            new = decode(payload)
        except ValueError as e:
            print("ws2: warning: namespace catalog unreadable (%s); using the default" % e)
    elif store.exists(_FILE):
        print("ws2: warning: namespace catalog file is corrupt; using the default")
    entries = new if new is not None else default_entries()
    loaded = True


def ensure():
    """Load the namespace catalog once."""
    if not loaded:
        load()


def forget():
    """Drop the in-memory copy so the next use reads flash (soft reset, tests)."""
    global loaded
    loaded = False


def reset():
    """Forget the stored namespace catalog and go back to the default."""
    store.remove(_FILE)
    load()


def commit(new):
    """Write a new namespace catalog to flash, then make it current (a failed write changes nothing)."""
    global entries
    store.save(_FILE, encode(new))
    entries = new


def find(provider_id):
    """Return the index of provider_id in the catalog, or -1."""
    for i in range(len(entries)):
        if entries[i][I_PROVIDER_ID] == provider_id:
            return i
    return -1


def active(namespace):
    """Enabled entries serving namespace (0 = NS_ALL: every enabled entry), in catalog order."""
    ensure()
    return [e for e in entries if e[I_ACTIVE] and (namespace == 0 or e[I_NAMESPACE] == namespace)]
