# ws2/catalog: the transport protocol catalog: entries, matching, and its file.
# MIT licence; part of ws2 for MicroPython.
import json

from ws2 import store
from ws2.errors import (WSAError, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL, WSAEPROTONOSUPPORT,
                        WSAESOCKTNOSUPPORT)
from ws2.protocol_info import WSAProtocolInfo, check
from ws2.port import const

# Indices into a catalog tuple (WSAPROTOCOL_INFOW order, see protocol_info.FIELDS).
I_PROVIDER_FLAGS = const(4)
I_PROVIDER_ID = const(5)
I_CATALOG_ID = const(6)
I_CHAIN = const(7)
I_AF = const(9)
I_TYPE = const(12)
I_PROTOCOL = const(13)
I_MAX_OFFSET = const(14)
I_SECURITY = const(16)
I_NAME = const(19)
_PFL_HIDDEN = const(0x04)
_PFL_MATCHES_PROTOCOL_ZERO = const(0x08)
_FILE = "catalog"
_FORMAT = const(1)
FIRST_ID = const(1001)

entries = []  # catalog tuples, in catalog order (= socket() matching priority)
paths = {}  # provider_id -> import path of the provider module
next_id = FIRST_ID
loaded = False


# -- the catalog file: pure codec, tested byte by byte ------------------------
#
# The payload is JSON, written by hand so that CPython and MicroPython (whose
# json.dumps orders dict keys by hash and escapes differently) produce the
# same bytes: {"format":1,"next_id":N,"paths":{id:path,...},"entries":[[...],...]}
# with paths sorted by provider id and entries in catalog order.

def _str(s):
    out = ['"']
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _value(v):
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, tuple):
        return "[" + ",".join("%d" % c for c in v) + "]"
    return "%d" % v


def encode(entries, paths, next_id):
    """Return the catalog file payload for these entries (the same bytes on every port)."""
    head = '{"format":%d,"next_id":%d,"paths":{' % (_FORMAT, next_id)
    ps = ",".join(_str(k) + ":" + _str(paths[k]) for k in sorted(paths))
    es = ",".join("[" + ",".join(_value(v) for v in e) + "]" for e in entries)
    return (head + ps + '},"entries":[' + es + "]}").encode()


def decode(payload):
    """Return (entries, paths, next_id) from a payload; ValueError when it is not a catalog."""
    try:
        d = json.loads(payload)
        if d["format"] != _FORMAT:
            raise ValueError("catalog format %r" % (d["format"],))
        paths = d["paths"]
        next_id = d["next_id"]
        if (not isinstance(paths, dict) or not isinstance(d["entries"], list) or not isinstance(next_id, int)
                or isinstance(next_id, bool)):
            raise ValueError("bad header")
        for k in paths:
            if not isinstance(paths[k], str) or not paths[k]:
                raise ValueError("provider %s has no module path" % k)
        out = []
        ids = []
        for e in d["entries"]:
            e = list(e)
            e[I_CHAIN] = tuple(e[I_CHAIN])
            e = check(tuple(e))
            cid = e[I_CATALOG_ID]
            if cid in ids:
                raise ValueError("catalog id %d is listed twice" % cid)
            if cid >= next_id:
                raise ValueError("catalog id %d is not below next_id %d" % (cid, next_id))
            if e[I_PROVIDER_ID] not in paths:
                raise ValueError("entry %d has no provider path" % cid)
            ids.append(cid)
            out.append(e)
        for e in out:
            for c in e[I_CHAIN]:
                if c not in ids:
                    raise ValueError("entry %d chains to %d, which is not in the catalog" % (e[I_CATALOG_ID], c))
        return out, paths, next_id
    except ValueError:
        raise
    except Exception as e:  # KeyError, TypeError, WSAError from check(): all "corrupt"
        raise ValueError("corrupt catalog: %r" % (e,))


def has_base(entries):
    """True when entries hold a base protocol (chain length 1): sockets can be made."""
    for e in entries:
        if len(e[I_CHAIN]) == 1:
            return True
    return False


# -- loading and saving --------------------------------------------------------

def _use(new_entries, new_paths, new_next):
    global entries, paths, next_id, loaded
    entries = new_entries
    paths = new_paths
    next_id = new_next
    loaded = True


def load():
    """Load the catalog from flash, falling back to the board's default catalog."""
    payload = store.load(_FILE)
    if payload is not None:
        try:
            got = decode(payload)
            if has_base(got[0]):
                _use(*got)
                return
            # A catalog without a base protocol would leave the device
            # without networking: the default is the safer answer.
            print("ws2: warning: stored catalog has no base protocol; using the default catalog")
        except ValueError as e:
            print("ws2: warning: catalog unreadable (%s); using the default catalog" % e)
    elif store.exists(_FILE):
        print("ws2: warning: catalog file is corrupt; using the default catalog")
    from ws2 import defcatalog

    _use(*defcatalog.default_catalog())


def ensure():
    """Load the catalog once."""
    if not loaded:
        load()


def forget():
    """Drop the in-memory copy so the next use reads flash (soft reset, tests)."""
    global loaded
    loaded = False


def save():
    """Persist the catalog (power-safe)."""
    store.save(_FILE, encode(entries, paths, next_id))


def commit(new_entries, new_paths, new_next):
    """Write a new catalog to flash, then make it current (a failed write changes nothing)."""
    store.save(_FILE, encode(new_entries, new_paths, new_next))
    _use(new_entries, new_paths, new_next)


def reset():
    """Forget the stored catalog and go back to the board default."""
    store.remove(_FILE)
    load()


# -- lookups -------------------------------------------------------------------

def by_id(catalog_id):
    """Return the entry with this catalog id, or None."""
    for e in entries:
        if e[I_CATALOG_ID] == catalog_id:
            return e
    return None


def by_info(protocol_info):
    """Return the entry a WSAProtocolInfo names; WSAEFAULT when it is not one, WSAEINVAL when not installed."""
    if not isinstance(protocol_info, WSAProtocolInfo):
        raise WSAError(WSAEFAULT, "protocol_info must be a WSAProtocolInfo")
    e = by_id(protocol_info.catalog_entry_id)
    if e is None:
        raise WSAError(WSAEINVAL, "protocol_info names catalog entry %r, which is not installed"
                       % (protocol_info.catalog_entry_id,))
    return e


def by_af(af):
    """Return the first protocol entry (not a bare layer) of address family af, or None."""
    for e in entries:
        if e[I_CHAIN] and e[I_AF] == af:
            return e
    return None


def path_of(provider_id):
    """Return the import path of a provider id, or None."""
    return paths.get(provider_id)


def match(af, type, protocol, after=None):
    """First entry matching (af, type, protocol) in catalog order, as socket() does (after: past that entry).

    af 0 and type 0 are wildcards; protocol 0 matches only entries flagged
    PFL_MATCHES_PROTOCOL_ZERO; hidden entries take part. With no full match
    the error names the closest partial match: no type -> WSAESOCKTNOSUPPORT,
    type but no family -> WSAEAFNOSUPPORT, type and family but no protocol ->
    WSAEPROTONOSUPPORT (Wine's test_WSASocket cases, docs/winsock.md).
    """
    if af == 0 and protocol == 0:
        raise WSAError(WSAEINVAL, "address family and protocol cannot both be 0")
    best = 0
    for e in entries:
        if after is not None:  # resuming past an entry whose provider was busy (socklife, rule 7)
            if e is after:
                after = None
            continue
        if not e[I_CHAIN]:  # a layered entry is not a protocol by itself
            continue
        if type and type != e[I_TYPE]:
            continue
        if af and af != e[I_AF]:
            if best < 1:
                best = 1
            continue
        p = e[I_PROTOCOL]
        if p <= protocol <= p + e[I_MAX_OFFSET] or (protocol == 0 and e[I_PROVIDER_FLAGS] & _PFL_MATCHES_PROTOCOL_ZERO):
            return e
        best = 2
    if best == 0:
        raise WSAError(WSAESOCKTNOSUPPORT, "no provider offers socket type %d" % type)
    if best == 1:
        raise WSAError(WSAEAFNOSUPPORT, "no provider offers address family %d for socket type %d" % (af, type))
    raise WSAError(WSAEPROTONOSUPPORT, "no provider offers protocol %d for (af %d, type %d)" % (protocol, af, type))


def visible(protocols=None, hidden=False):
    """Entries in catalog order, filtered by a protocol list; PFL_HIDDEN ones only when hidden.

    An entry passes the filter when a listed protocol lies in [protocol,
    protocol + max_offset]; as in C, where the list is zero-terminated, a 0
    ends it, and unknown protocols are ignored.
    """
    out = []
    for e in entries:
        if not hidden and e[I_PROVIDER_FLAGS] & _PFL_HIDDEN:
            continue
        if protocols is not None:
            p = e[I_PROTOCOL]
            hit = False
            for q in protocols:
                if q == 0:
                    break
                if p <= q <= p + e[I_MAX_OFFSET]:
                    hit = True
                    break
            if not hit:
                continue
        out.append(e)
    return out
