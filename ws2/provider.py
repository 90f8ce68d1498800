# ws2/provider: loading transport providers, validating their proc tables, their lifetime.
# MIT licence; part of ws2 for MicroPython.
#
# One Provider object per provider id (as ReactOS keeps one TPROVIDER per
# GUID): imported when a socket first needs it, WSPStartup called once, and
# released - WSPCleanup, module dropped from sys.modules so its RAM can be
# collected - when it owns no socket and the last WSACleanup has run.
import sys

from ws2 import catalog, state
from ws2.errors import (WSAError, WSAEINVALIDPROCTABLE, WSAEINVALIDPROVIDER,
                        WSAEPROVIDERFAILEDINIT, WSAEINVAL)
from ws2.port import const

_VERSION_2_2 = const(0x0202)
_WSP_TABLE_SIZE = const(30)
_WSP_CLEANUP = const(5)

loaded = {}  # provider_id -> Provider


class Provider:
    """A started transport provider: its module, proc table and socket count."""

    def __init__(self, provider_id, path, module, table, data):
        self.provider_id = provider_id
        self.path = path
        self.module = module
        self.table = table
        self.data = data
        self.sockets = 0  # live router handles owned by this provider

    def __repr__(self):
        return "<Provider %s %s>" % (self.path, self.provider_id)


def import_module(path):
    """Import a provider module by dotted path; WSAEPROVIDERFAILEDINIT when it cannot be."""
    for again in (False, True):
        try:
            __import__(path)
            return sys.modules[path]
        except Exception as e:  # missing, or failing while it runs: either way no provider
            drop_module(path)
            if again or not isinstance(e, MemoryError):
                raise WSAError(WSAEPROVIDERFAILEDINIT, "cannot import provider %s: %r" % (path, e))
        # Out of memory: compiling a provider installed as source needs large blocks
        # (qstr pool, parse tree) while the failed attempt's garbage splits the heap.
        # Once more on a collected heap, with the names it interned already in place.
        import gc

        gc.collect()


def drop_module(path):
    """Forget a module so its RAM can be collected (the FreeLibrary of ws2)."""
    sys.modules.pop(path, None)
    dot = path.rfind(".")
    if dot > 0:
        parent = sys.modules.get(path[:dot])
        name = path[dot + 1 :]
        if parent is not None and name in getattr(parent, "__dict__", {}):
            try:
                delattr(parent, name)
            except (AttributeError, TypeError):
                pass


def validate_table(table):
    """Return table as a tuple if it is a proc table of 30 callables, else raise WSAEINVALIDPROCTABLE."""
    if not isinstance(table, (tuple, list)) or len(table) != _WSP_TABLE_SIZE:
        n = len(table) if isinstance(table, (tuple, list)) else type(table).__name__
        raise WSAError(WSAEINVALIDPROCTABLE, "proc table must have 30 entries, got %s" % (n,))
    for i in range(_WSP_TABLE_SIZE):
        if not callable(table[i]):
            raise WSAError(WSAEINVALIDPROCTABLE, "proc table slot %d is not callable" % i)
    return tuple(table)


def start(provider_id, path, info):
    """Import path and run its WSPStartup for info; return a Provider (not yet registered)."""
    from ws2 import upcalls

    module = import_module(path)
    entry = getattr(module, "WSPStartup", None)
    if entry is None:
        drop_module(path)
        raise WSAError(WSAEPROVIDERFAILEDINIT, "provider %s has no WSPStartup" % path)
    try:
        data, table = entry(_VERSION_2_2, info, upcalls)
    except Exception as e:
        drop_module(path)
        raise WSAError(WSAEPROVIDERFAILEDINIT, "%s.WSPStartup failed: %r" % (path, e))
    try:
        table = validate_table(table)
    except WSAError:
        drop_module(path)
        raise
    version = data[0] if isinstance(data, (tuple, list)) and data else data
    if version != _VERSION_2_2:
        # CE's GetProvider: a provider that cannot speak 2.2 is cleaned up at once.
        try:
            table[_WSP_CLEANUP]()
        except Exception:
            pass
        drop_module(path)
        raise WSAError(WSAEINVALIDPROVIDER, "%s offers version %r, not 2.2" % (path, version))
    return Provider(provider_id, path, module, table, data)


def for_entry(e):
    """Return the started Provider serving catalog tuple e, loading it on first use."""
    pid = e[catalog.I_PROVIDER_ID]
    p = loaded.get(pid)
    if p is not None:
        return p
    path = catalog.path_of(pid)
    if path is None:
        raise WSAError(WSAEINVAL, "no provider is installed for id %s" % pid)
    from ws2.protocol_info import from_tuple

    p = start(pid, path, from_tuple(e))
    with state.lock:
        other = loaded.get(pid)
        if other is None:
            loaded[pid] = p
            return p
    # another thread won the race: keep its copy, undo ours
    _cleanup(p)
    return other


def for_catalog_id(catalog_id):
    """Return the started Provider of a catalog entry id (WSAEINVAL when unknown)."""
    e = catalog.by_id(catalog_id)
    if e is None:
        raise WSAError(WSAEINVAL, "no catalog entry %r" % (catalog_id,))
    return for_entry(e)


def _cleanup(p):
    try:
        p.table[_WSP_CLEANUP]()
    except Exception as e:
        print("ws2: warning: %s.WSPCleanup failed: %r" % (p.path, e))


def release(p):
    """WSPCleanup p and drop its module."""
    if loaded.get(p.provider_id) is p:
        del loaded[p.provider_id]
    _cleanup(p)
    drop_module(p.path)


def maybe_release(p):
    """Release p if it owns no socket and ws2 is no longer started."""
    if p.sockets <= 0 and not state.started and loaded.get(p.provider_id) is p:
        release(p)


def release_all():
    """Release every loaded provider (the last WSACleanup)."""
    for p in list(loaded.values()):
        release(p)
