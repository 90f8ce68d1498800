# ws2/nsinstall: the namespace WSC* calls: install, uninstall, enable and enumerate namespace providers.
# MIT licence; part of ws2 for MicroPython.
#
# The namespace side of ws2/install (the transport WSC* calls), as ReactOS pairs
# spinstal.c with nspinstl.c. Each call validates, then writes the whole new
# catalog through nscatalog.commit: a failed write leaves the old one in force.
import sys

from ws2 import nscatalog
from ws2.dispatch import fail, prolog
from ws2.errors import WSAError, WSAEINVAL
from ws2.nscatalog import I_ACTIVE, I_IDENTIFIER, I_NAMESPACE, I_PROVIDER_ID, I_VERSION, check, ensure, guid


class WSANameSpaceInfo:
    """One installed namespace provider (WSANAMESPACE_INFOW)."""

    def __init__(self, provider_id, name_space, active, version, identifier):
        self.provider_id = provider_id
        self.name_space = name_space
        self.active = active
        self.version = version
        self.identifier = identifier

    def __repr__(self):
        return "WSANameSpaceInfo(%r, name_space=%d, active=%r, identifier=%r)" % (
            self.provider_id, self.name_space, self.active, self.identifier)


def _release(provider_id):
    # A loaded provider that is removed or disabled is cleaned up now; the
    # provider loader is only asked when it is already in memory.
    m = sys.modules.get("ws2.nsprovider")
    if m is not None:
        m.release(provider_id)


def _installed(provider_id):
    # (normalised id, its index in the catalog); WSAEINVAL when it is not installed.
    ensure()
    pid = guid(provider_id)
    i = nscatalog.find(pid)
    if i < 0:
        raise WSAError(WSAEINVAL, "namespace provider %s is not installed" % pid)
    return pid, i


def WSCInstallNameSpace(identifier, path, namespace, version, provider_id):
    """Install a namespace provider (module path exporting NSPStartup) at the end of the catalog."""
    try:
        ensure()
        e = check((identifier, path, namespace, version, guid(provider_id), True))
        if nscatalog.find(e[I_PROVIDER_ID]) >= 0:
            raise WSAError(WSAEINVAL, "namespace provider %s is already installed" % e[I_PROVIDER_ID])
        nscatalog.commit(nscatalog.entries + [e])
    except Exception as x:
        raise fail(x)
    return 0


def WSCUnInstallNameSpace(provider_id):
    """Remove a namespace provider from the catalog (cleaning it up if loaded)."""
    try:
        pid, i = _installed(provider_id)
        entries = nscatalog.entries
        nscatalog.commit(entries[:i] + entries[i + 1 :])
        _release(pid)
    except Exception as x:
        raise fail(x)
    return 0


def WSCEnableNSProvider(provider_id, enable):
    """Enable or disable an installed namespace provider."""
    try:
        pid, i = _installed(provider_id)
        new = list(nscatalog.entries)
        new[i] = new[i][:I_ACTIVE] + (bool(enable),)
        nscatalog.commit(new)
        if not enable:
            _release(pid)
    except Exception as x:
        raise fail(x)
    return 0


def WSCEnumNameSpaceProviders():
    """Return every installed namespace provider as WSANameSpaceInfo, in catalog order."""
    ensure()
    return [WSANameSpaceInfo(e[I_PROVIDER_ID], e[I_NAMESPACE], e[I_ACTIVE], e[I_VERSION], e[I_IDENTIFIER])
            for e in nscatalog.entries]


def WSAEnumNameSpaceProviders():
    """Like WSCEnumNameSpaceProviders, for applications: needs WSAStartup."""
    prolog()
    return WSCEnumNameSpaceProviders()
