# ws2/upcalls: the WPU functions a provider calls back into the router with.
# MIT licence; part of ws2 for MicroPython.
#
# Providers receive this module as the `upcalls` argument of WSPStartup and
# call e.g. upcalls.WPUCreateSocketHandle(catalog_entry_id, context).
from ws2 import catalog, handles, provider, state
from ws2.errors import WSAError, WSAEINVAL


_owner = {}  # catalog entry id -> (catalog entries, Provider): the last answers of _provider_of


def _provider_of(catalog_entry_id):
    # provider.for_catalog_id, remembered while the catalog is the same list and the provider loaded
    # (every socket() asks it once: a catalog search and a provider lookup saved).
    m = _owner.get(catalog_entry_id)
    if m is not None and m[0] is catalog.entries and provider.loaded.get(m[1].provider_id) is m[1]:
        return m[1]
    p = provider.for_catalog_id(catalog_entry_id)
    if len(_owner) >= 8:
        _owner.clear()
    _owner[catalog_entry_id] = (catalog.entries, p)
    return p


def WPUCreateSocketHandle(catalog_entry_id, context):
    """Make a router handle for a non-IFS (or layered) provider's socket context."""
    p = _provider_of(catalog_entry_id)
    h = handles.alloc(p, context, catalog_entry_id, handles.F_LAYERED)
    p.sockets += 1
    return h


def WPUModifyIFSHandle(catalog_entry_id, proposed):
    """Register an IFS provider's own pollable object and return its router handle."""
    if proposed is None:
        raise WSAError(WSAEINVAL, "no handle proposed")
    p = _provider_of(catalog_entry_id)
    h = handles.alloc(p, proposed, catalog_entry_id, handles.F_IFS)
    p.sockets += 1
    return h


def WPUQuerySocketHandleContext(s):
    """Return the provider context stored with handle s."""
    return handles.ctx[handles.slot(s)]


def WPUCloseSocketHandle(s):
    """Free handle s (made by WPUCreateSocketHandle or WPUModifyIFSHandle)."""
    i = handles.slot(s)
    p = handles.prov[i]
    with state.lock:
        handles.free(i)
        p.sockets -= 1
    if not state.started:  # only after WSACleanup can a provider go (the common close skips the call)
        provider.maybe_release(p)
    return 0


def WPUGetProviderPath(provider_id):
    """Return the import path of an installed provider id."""
    path = catalog.path_of(provider_id)
    if path is None:
        raise WSAError(WSAEINVAL, "unknown provider id %r" % (provider_id,))
    return path


def WPUQueryBlockingCallback(catalog_entry_id):
    """Return (callback, context): call callback(context) between slices of a blocking wait; False = cancelled (WSAEINTR)."""
    from ws2 import blocking

    return blocking.check_in, catalog_entry_id


def WPUPostMessage(callback, s, event, error):
    """Deliver an async-select notification: the window message becomes callback(s, event, error)."""
    callback(s, event, error)
    return True


def WPUFDIsSet(s, fdset):
    """Return True when s is in fdset (an fd_set is a plain collection of handles here)."""
    return s in fdset


def WPUCreateEvent():
    """Create a manual-reset, non-signalled event object."""
    from ws2 import event

    return event.WSAEvent()


def WPUCloseEvent(ev):
    """Close an event object."""
    from ws2 import event

    event.check(ev).closed = True
    return True


def WPUSetEvent(ev):
    """Signal an event object."""
    from ws2 import event

    event.check(ev).signalled = True
    return True


def WPUResetEvent(ev):
    """Reset an event object."""
    from ws2 import event

    event.check(ev).signalled = False
    return True


def WPUQueueApc(thread_id, routine, context):
    """Queue routine(context) to run in thread_id's next alertable wait."""
    from ws2 import event

    return event.queue_apc(thread_id, routine, (context,))


def WPUCompleteOverlappedRequest(s, overlapped, error, transferred, flags=0):
    """Complete an overlapped request a provider ran itself: record the result, signal its event, queue its routine."""
    from ws2 import overlapped as ov

    return ov.complete_request(s, overlapped, error, transferred, flags)


def WPUOpenCurrentThread():
    """Return the calling thread's id, for later APC delivery."""
    return state.get_ident()


def WPUCloseThread(thread_id):
    """Release a thread id from WPUOpenCurrentThread (nothing to free here)."""
    return 0
