# ws2/nsprovider: loading namespace providers, validating their NSP routine tables, their lifetime.
# MIT licence; part of ws2 for MicroPython.
#
# One NSProvider per provider id, started on the first lookup that needs it
# (NSPStartup once) and released - NSPCleanup, module dropped - by the last
# WSACleanup, or at once when the provider is uninstalled or disabled.
from ws2 import nscatalog, state
from ws2.errors import WSAError, WSAEINVALIDPROCTABLE, WSAEPROVIDERFAILEDINIT
from ws2.provider import drop_module, import_module
from ws2.port import const

_NSP_TABLE_SIZE = const(9)
_NSP_CLEANUP = const(0)

loaded = {}  # provider_id -> NSProvider


class NSProvider:
    """A started namespace provider: its catalog entry, module and routines."""

    def __init__(self, entry, module, routines):
        self.provider_id = entry[nscatalog.I_PROVIDER_ID]
        self.namespace = entry[nscatalog.I_NAMESPACE]
        self.path = entry[nscatalog.I_PATH]
        self.module = module
        self.routines = routines

    def __repr__(self):
        return "<NSProvider %s %s>" % (self.path, self.provider_id)


def validate_routines(routines):
    """Return routines as a tuple if it is an NSP routine table of 9 callables, else raise."""
    if not isinstance(routines, (tuple, list)) or len(routines) != _NSP_TABLE_SIZE:
        n = len(routines) if isinstance(routines, (tuple, list)) else type(routines).__name__
        raise WSAError(WSAEINVALIDPROCTABLE, "NSP routine table must have 9 entries, got %s" % (n,))
    for i in range(_NSP_TABLE_SIZE):
        if not callable(routines[i]):
            raise WSAError(WSAEINVALIDPROCTABLE, "NSP routine slot %d is not callable" % i)
    return tuple(routines)


def start(entry):
    """Import an entry's module and run its NSPStartup; return an NSProvider (not registered)."""
    path = entry[nscatalog.I_PATH]
    module = import_module(path)
    startup = getattr(module, "NSPStartup", None)
    if startup is None:
        drop_module(path)
        raise WSAError(WSAEPROVIDERFAILEDINIT, "namespace provider %s has no NSPStartup" % path)
    try:
        routines = startup(entry[nscatalog.I_PROVIDER_ID])
    except Exception as e:
        drop_module(path)
        raise WSAError(WSAEPROVIDERFAILEDINIT, "%s.NSPStartup failed: %r" % (path, e))
    try:
        routines = validate_routines(routines)
    except WSAError:
        drop_module(path)
        raise
    return NSProvider(entry, module, routines)


def for_entry(entry):
    """Return the started NSProvider of a namespace catalog entry, loading it on first use."""
    pid = entry[nscatalog.I_PROVIDER_ID]
    p = loaded.get(pid)
    if p is not None:
        return p
    p = start(entry)
    with state.lock:
        other = loaded.get(pid)
        if other is None:
            loaded[pid] = p
            return p
    _cleanup(p)  # another thread won the race
    return other


def _cleanup(p):
    try:
        p.routines[_NSP_CLEANUP](p.provider_id)
    except Exception as e:
        print("ws2: warning: %s.NSPCleanup failed: %r" % (p.path, e))


def release(provider_id):
    """NSPCleanup a loaded provider and drop its module (no-op when not loaded)."""
    p = loaded.pop(provider_id, None)
    if p is not None:
        _cleanup(p)
        drop_module(p.path)


def release_all():
    """Release every loaded namespace provider (the last WSACleanup)."""
    for pid in list(loaded):
        release(pid)
