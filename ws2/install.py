# ws2/install: WSC* configuration functions for transport providers (what an installer applet calls).
# MIT licence; part of ws2 for MicroPython.
#
# These work without WSAStartup, as on Windows, and every change is written
# to flash at once with the power-safe store.
from ws2 import catalog, provider, state
from ws2.dispatch import fail
from ws2.errors import WSAError, WSAEINVAL
from ws2.protocol_info import WSAProtocolInfo, check


def _guid(provider_id):
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
        raise WSAError(WSAEINVAL, "provider id must be a GUID string like {AAFC3764-763B-427B-B15B-97A6E5C983CE}")
    return provider_id.upper()


def _check_module(path):
    if not isinstance(path, str) or not path:
        raise WSAError(WSAEINVAL, "provider path must be a module path such as 'providers.wspm'")
    import sys

    was_loaded = path in sys.modules
    try:
        m = provider.import_module(path)
    except WSAError as e:
        raise WSAError(WSAEINVAL, "cannot install %s: module not found (%s)" % (path, e.args[1]))
    has = hasattr(m, "WSPStartup")
    if not was_loaded:
        provider.drop_module(path)  # checking must not cost RAM
    if not has:
        raise WSAError(WSAEINVAL, "cannot install %s: it has no WSPStartup" % path)


def _chain_ok(chain, ids):
    # A chain (length > 1) must name installed entries below its own; its base must be a base entry.
    for cid in chain[1:]:
        e = catalog.by_id(cid) if cid not in ids else None
        if cid not in ids and e is None:
            raise WSAError(WSAEINVAL, "protocol chain names catalog entry %d, which is not installed" % cid)
    base = catalog.by_id(chain[-1])
    if base is not None and len(base[catalog.I_CHAIN]) != 1:
        raise WSAError(WSAEINVAL, "a protocol chain must end at a base entry, not %d" % chain[-1])


def _entries_for(pid, infos, first_id):
    if not isinstance(infos, (list, tuple)) or not infos:
        raise WSAError(WSAEINVAL, "protocol_infos must be a non-empty list of WSAProtocolInfo")
    out = []
    next_id = first_id
    for info in infos:
        if not isinstance(info, WSAProtocolInfo):
            raise WSAError(WSAEINVAL, "protocol_infos must hold WSAProtocolInfo objects, not %r" % (info,))
        t = list(check(info.to_tuple()))
        t[catalog.I_PROVIDER_ID] = pid
        t[catalog.I_CATALOG_ID] = next_id
        chain = t[catalog.I_CHAIN]
        if len(chain) == 1:
            chain = (next_id,)  # a base entry's chain is itself
        elif len(chain) > 1:
            chain = (next_id,) + tuple(chain[1:])  # the layer's own entry comes first
        t[catalog.I_CHAIN] = chain
        out.append(tuple(t))
        next_id += 1
    ids = [e[catalog.I_CATALOG_ID] for e in out]
    for e in out:
        if len(e[catalog.I_CHAIN]) > 1:
            _chain_ok(e[catalog.I_CHAIN], ids)
    return out, next_id


def WSCInstallProvider(provider_id, path, protocol_infos):
    """Install a provider's entries at the end of the catalog; returns their new catalog ids."""
    try:
        pid = _guid(provider_id)
        catalog.ensure()
        if pid in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is already installed (use WSCUpdateProvider)" % pid)
        _check_module(path)
        with state.lock:
            new, nxt = _entries_for(pid, protocol_infos, catalog.next_id)
            catalog.entries.extend(new)
            catalog.paths[pid] = path
            catalog.next_id = nxt
            catalog.save()
        return [e[catalog.I_CATALOG_ID] for e in new]
    except Exception as e:
        raise fail(e)


def WSCDeinstallProvider(provider_id):
    """Remove every catalog entry of a provider id."""
    try:
        pid = _guid(provider_id)
        catalog.ensure()
        if pid not in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % pid)
        p = provider.loaded.get(pid)
        if p is not None and p.sockets:
            raise WSAError(WSAEINVAL, "provider %s has %d open sockets" % (pid, p.sockets))
        with state.lock:
            catalog.entries[:] = [e for e in catalog.entries if e[catalog.I_PROVIDER_ID] != pid]
            del catalog.paths[pid]
            catalog.save()
        return 0
    except Exception as e:
        raise fail(e)


def WSCUpdateProvider(provider_id, path, protocol_infos):
    """Replace a provider's path and entries in place (their positions and, where possible, ids kept)."""
    try:
        pid = _guid(provider_id)
        catalog.ensure()
        if pid not in catalog.paths:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % pid)
        _check_module(path)
        with state.lock:
            old_pos = [i for i, e in enumerate(catalog.entries) if e[catalog.I_PROVIDER_ID] == pid]
            new, nxt = _entries_for(pid, protocol_infos, catalog.next_id)
            for k, e in enumerate(new):
                if k < len(old_pos):
                    keep = catalog.entries[old_pos[k]][catalog.I_CATALOG_ID]
                    e = list(e)
                    e[catalog.I_CATALOG_ID] = keep
                    if len(e[catalog.I_CHAIN]) >= 1:
                        e[catalog.I_CHAIN] = (keep,) + tuple(e[catalog.I_CHAIN][1:])
                    catalog.entries[old_pos[k]] = tuple(e)
                else:
                    catalog.entries.append(e)
            for i in reversed(old_pos[len(new):]):
                del catalog.entries[i]
            catalog.paths[pid] = path
            catalog.next_id = nxt
            catalog.save()
        return 0
    except Exception as e:
        raise fail(e)


def WSCWriteProviderOrder(catalog_ids):
    """Reorder the catalog; catalog_ids must list every installed entry exactly once."""
    try:
        catalog.ensure()
        ids = list(catalog_ids)
        have = [e[catalog.I_CATALOG_ID] for e in catalog.entries]
        if len(ids) != len(have) or sorted(ids) != sorted(have):
            raise WSAError(WSAEINVAL, "the order must name each of the %d installed entries once" % len(have))
        with state.lock:
            catalog.entries[:] = [catalog.by_id(i) for i in ids]
            catalog.save()
        return 0
    except Exception as e:
        raise fail(e)


def WSCGetProviderPath(provider_id):
    """Return the module path of an installed provider."""
    try:
        catalog.ensure()
        path = catalog.path_of(_guid(provider_id))
        if path is None:
            raise WSAError(WSAEINVAL, "provider %s is not installed" % provider_id)
        return path
    except Exception as e:
        raise fail(e)
