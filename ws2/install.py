# ws2/install: WSC* configuration functions for transport providers (what an installer applet calls).
# MIT licence; part of ws2 for MicroPython.
#
# These work without WSAStartup, as on Windows. Each change is built aside,
# written to flash with the power-safe store, and only then made current, so
# a refused or failed change leaves both the file and the running catalog as
# they were.
from ws2 import catalog, provider, state
from ws2.dispatch import fail
from ws2.errors import WSAError, WSAEINVAL
from ws2.protocol_info import WSAProtocolInfo, check
from ws2.port import const

_MAX_CHAIN = const(7)


def guid(provider_id):
    """Return provider_id upper-cased if it is a GUID string, else raise WSAEINVAL."""
    ok = isinstance(provider_id, str) and len(provider_id) == 38 and provider_id[0] == "{" and provider_id[-1] == "}"
    if ok:
        parts = provider_id[1:-1].split("-")
        ok = [len(p) for p in parts] == [8, 4, 4, 4, 12]
        if ok:
            try:
                for p in parts:
                    int(p, 16)
            except ValueError:
                ok = False
    if not ok:
        raise WSAError(WSAEINVAL, "provider id must be a GUID string like {AAFC3764-763B-427B-B15B-97A6E5C983CE}, "
                       "not %r" % (provider_id,))
    return provider_id.upper()


def _check_module(path):
    if not isinstance(path, str) or not path or " " in path or path[0] == "." or path[-1] == ".":
        raise WSAError(WSAEINVAL, "provider path must be a module path such as 'providers.wspm', not %r" % (path,))
    import sys

    was_loaded = path in sys.modules
    try:
        m = provider.import_module(path)
    except WSAError as e:
        raise WSAError(WSAEINVAL, "cannot install %s: the module cannot be imported (%s)" % (path, e.args[1]))
    has = callable(getattr(m, "WSPStartup", None))
    if not was_loaded:
        provider.drop_module(path)  # checking must not cost RAM
    if not has:
        raise WSAError(WSAEINVAL, "cannot install %s: it has no WSPStartup, so it is not a transport provider" % path)


def _entries_for(pid, infos, ids, entries):
    """Catalog tuples for infos, with catalog ids from ids; chains checked against entries."""
    if not isinstance(infos, (list, tuple)) or not infos:
        raise WSAError(WSAEINVAL, "protocol_infos must be a non-empty list of WSAProtocolInfo")
    if len(infos) > len(ids):
        raise WSAError(WSAEINVAL, "too many protocol infos")
    out = []
    layers = []
    for k in range(len(infos)):
        info = infos[k]
        if not isinstance(info, WSAProtocolInfo):
            raise WSAError(WSAEINVAL, "protocol_infos must hold WSAProtocolInfo objects, not %r" % (info,))
        t = list(check(info.to_tuple()))
        if not t[catalog.I_NAME]:
            raise WSAError(WSAEINVAL, "protocol info %d has no protocol_name" % k)
        if t[catalog.I_MAX_OFFSET] < 0:
            raise WSAError(WSAEINVAL, "protocol_max_offset must be >= 0")
        t[catalog.I_PROVIDER_ID] = pid
        t[catalog.I_CATALOG_ID] = ids[k]
        if len(t[catalog.I_CHAIN]) == 0:
            layers.append(ids[k])
        elif len(t[catalog.I_CHAIN]) == 1:
            t[catalog.I_CHAIN] = (ids[k],)  # a base entry's chain is itself
        out.append(t)
    # Chains (length > 1) as on Windows: [layered entry, ..., base entry].
    # A chain starting with 0 means "the layered entry installed in this same
    # call", so a layered provider can install its layer and chains at once.
    known = {}
    for e in entries:
        known[e[catalog.I_CATALOG_ID]] = len(e[catalog.I_CHAIN])
    for t in out:
        known[t[catalog.I_CATALOG_ID]] = len(t[catalog.I_CHAIN])
    for t in out:
        chain = t[catalog.I_CHAIN]
        if len(chain) < 2:
            continue
        if chain[0] == 0:
            if len(layers) != 1:
                raise WSAError(WSAEINVAL, "a chain starting with 0 needs exactly one layered entry in the same call")
            chain = (layers[0],) + chain[1:]
            t[catalog.I_CHAIN] = chain
        if known.get(chain[0]) != 0:
            raise WSAError(WSAEINVAL, "protocol chain %r must start at a layered entry (chain length 0)" % (chain,))
        for cid in chain[1:]:
            if cid not in known:
                raise WSAError(WSAEINVAL, "protocol chain %r names catalog entry %r, which is not installed" % (chain, cid))
        for cid in chain[1:-1]:  # each step down is a layer's own entry, which passes on to the next
            if known[cid] != 0:
                raise WSAError(WSAEINVAL, "protocol chain %r: %r between its ends is not a layered entry" % (chain, cid))
        if known[chain[-1]] != 1:
            raise WSAError(WSAEINVAL, "protocol chain %r must end at a base entry, not %r" % (chain, chain[-1]))
    return [tuple(t) for t in out]


def _still_consistent(entries):
    # No chain may name an entry that is gone, and at least one base entry
    # must remain: a catalog without one would leave the device offline.
    ids = [e[catalog.I_CATALOG_ID] for e in entries]
    for e in entries:
        for cid in e[catalog.I_CHAIN]:
            if cid not in ids:
                raise WSAError(WSAEINVAL, "catalog entry %d chains through entry %d, which would be removed; "
                               "remove the layered provider first" % (e[catalog.I_CATALOG_ID], cid))
    if not catalog.has_base(entries):
        raise WSAError(WSAEINVAL, "this would leave no base protocol in the catalog, and the device without "
                       "networking (ws2.catalog.reset() restores the default catalog)")


def _no_open_sockets(pid):
    p = provider.loaded.get(pid)
    if p is not None and p.sockets:
        raise WSAError(WSAEINVAL, "provider %s has %d open sockets" % (pid, p.sockets))


def _unload(pid):
    # A loaded provider with no sockets is released, so the next socket loads
    # what the catalog now says (new path or entries), or nothing at all.
    p = provider.loaded.get(pid)
    if p is not None and not p.sockets:
        provider.release(p)


def WSCInstallProvider(provider_id, path, protocol_infos):
    """Install a provider's entries at the end of the catalog; returns their new catalog ids."""
    try:
        pid = guid(provider_id)
        catalog.ensure()
        if pid in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is already installed (use WSCUpdateProvider)" % pid)
        _check_module(path)
        with state.lock:
            n = len(protocol_infos) if isinstance(protocol_infos, (list, tuple)) else 0
            ids = list(range(catalog.next_id, catalog.next_id + n))
            new = _entries_for(pid, protocol_infos, ids, catalog.entries)
            paths = dict(catalog.paths)
            paths[pid] = path
            catalog.commit(catalog.entries + new, paths, catalog.next_id + n)
        return ids
    except Exception as e:
        raise fail(e)


def WSCDeinstallProvider(provider_id):
    """Remove every catalog entry of a provider id."""
    try:
        pid = guid(provider_id)
        catalog.ensure()
        if pid not in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % pid)
        _no_open_sockets(pid)
        with state.lock:
            entries = [e for e in catalog.entries if e[catalog.I_PROVIDER_ID] != pid]
            _still_consistent(entries)
            paths = dict(catalog.paths)
            del paths[pid]
            catalog.commit(entries, paths, catalog.next_id)
        _unload(pid)
        return 0
    except Exception as e:
        raise fail(e)


def WSCUpdateProvider(provider_id, path, protocol_infos):
    """Replace a provider's path and entries in place (catalog ids and positions kept)."""
    try:
        pid = guid(provider_id)
        catalog.ensure()
        if pid not in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % pid)
        _check_module(path)
        _no_open_sockets(pid)
        with state.lock:
            # The k-th info replaces the k-th entry installed (ascending ids),
            # wherever WSCWriteProviderOrder has put it; extras go at the end.
            old = catalog.entries
            mine = sorted(e[catalog.I_CATALOG_ID] for e in old if e[catalog.I_PROVIDER_ID] == pid)
            n = len(protocol_infos) if isinstance(protocol_infos, (list, tuple)) else 0
            extra = max(0, n - len(mine))
            ids = mine[:n] + list(range(catalog.next_id, catalog.next_id + extra))
            others = [e for e in old if e[catalog.I_PROVIDER_ID] != pid]
            new = _entries_for(pid, protocol_infos, ids, others)
            by_id = {}
            for e in new:
                by_id[e[catalog.I_CATALOG_ID]] = e
            entries = []
            for e in old:
                if e[catalog.I_PROVIDER_ID] != pid:
                    entries.append(e)
                elif e[catalog.I_CATALOG_ID] in by_id:
                    entries.append(by_id.pop(e[catalog.I_CATALOG_ID]))
            entries += [e for e in new if e[catalog.I_CATALOG_ID] in by_id]
            _still_consistent(entries)
            paths = dict(catalog.paths)
            paths[pid] = path
            catalog.commit(entries, paths, catalog.next_id + extra)
        _unload(pid)
        return 0
    except Exception as e:
        raise fail(e)


def WSCWriteProviderOrder(catalog_ids):
    """Reorder the catalog; catalog_ids must list every installed entry exactly once."""
    try:
        catalog.ensure()
        if not isinstance(catalog_ids, (list, tuple)):
            raise WSAError(WSAEINVAL, "catalog_ids must be a list of catalog entry ids")
        have = [e[catalog.I_CATALOG_ID] for e in catalog.entries]
        if len(catalog_ids) != len(have):
            raise WSAError(WSAEINVAL, "the order must name each of the %d installed entries once, not %d"
                           % (len(have), len(catalog_ids)))
        entries = []
        for cid in catalog_ids:
            e = catalog.by_id(cid) if isinstance(cid, int) and not isinstance(cid, bool) else None
            if e is None:
                raise WSAError(WSAEINVAL, "%r is not an installed catalog entry id" % (cid,))
            if e in entries:
                raise WSAError(WSAEINVAL, "catalog entry %d is listed twice" % cid)
            entries.append(e)
        with state.lock:
            catalog.commit(entries, catalog.paths, catalog.next_id)
        return 0
    except Exception as e:
        raise fail(e)


def WSCGetProviderPath(provider_id):
    """Return the module path of an installed provider."""
    try:
        catalog.ensure()
        pid = guid(provider_id)
        path = catalog.path_of(pid)
        if path is None:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % pid)
        return path
    except Exception as e:
        raise fail(e)
