# firmware/packages: the installable packages ws2 is split into, and their files.
# MIT licence; part of ws2 for MicroPython.
#
# One table drives every install path: the mip index (`make mip-index`), the
# package files for `mip install github:...` (packages/*.json), the freeze
# manifests' pieces (packages/*.manifest.py) and the size report of `make
# bundle`. A package claims device modules by pattern; "ws2" takes whatever no
# other package claims, so a module added to ws2/ or providers/ lands in the
# core unless a pattern here says otherwise, and a package whose patterns
# match nothing yet (ws2-compat before ws2/compat*.py exists) is left out.
import fnmatch
import os

from firmware import ROOT, bundle

CORE = "ws2"
DIR = os.path.join(ROOT, "packages")

# (name, what it gives, patterns of paths inside /lib, the packages it needs)
TABLE = (
    (CORE, "the Winsock 2 router and wspm: TCP and UDP sockets", (), ()),
    ("ws2-dns", "name resolution: the namespace router, nspm (DNS) and its message codec",
     ("ws2/addrinfo.py", "ws2/nsrouter.py", "ws2/nscatalog.py", "ws2/nsinstall.py", "ws2/nsprovider.py",
      "ws2/queryset.py", "providers/nspm.py", "providers/dnsmsg.py", "providers/dnsretry.py", "ws2/nsconst.py"),
     (CORE,)),
    ("ws2-tls", "TLS as a layered provider (ssllsp)", ("providers/ssllsp/*", "ws2/tlsconst.py"), (CORE,)),
    ("ws2-io", "event objects, select/WSAPoll, WSAEventSelect, overlapped I/O, asyncio bridge, blocking hooks",
     ("ws2/event.py", "ws2/netevents.py", "ws2/sockselect.py", "ws2/waitset.py", "ws2/fdrules.py",
      "ws2/overlapped.py", "ws2/aio.py", "ws2/blocking.py"), (CORE,)),
    ("ws2-layers", "the packet-capture and fault-injection layers and their installer",
     ("providers/capture.py", "providers/capsink.py", "providers/pcap.py", "providers/faults.py",
      "providers/faultplan.py", "providers/lspinst.py"), (CORE,)),
    ("ws2-compat", "drop-in socket, ssl and tls modules on top of ws2", ("ws2/compat*",),
     (CORE, "ws2-dns", "ws2-io", "ws2-tls")),
    ("ws2-example-lsp", "an example layered provider, the starting point for writing one",
     ("providers/example_lsp.py",), (CORE,)),
)

# What a TCP client loads (WSAStartup, socket, connect, send, recv, closesocket
# through the default catalog): the "router + wspm" of the flash budget. The
# mip install test checks that a TCP echo loads nothing outside it.
TCP = ("ws2/__init__.py", "ws2/board.py", "ws2/catalog.py", "ws2/const.py", "ws2/defcatalog.py", "ws2/dispatch.py",
       "ws2/errors.py", "ws2/handles.py", "ws2/inaddr.py", "ws2/native.py", "ws2/port.py", "ws2/protocol_info.py",
       "ws2/provider.py",
       "ws2/settings.py", "ws2/sockctrl.py", "ws2/sockio.py", "ws2/socklife.py", "ws2/startup.py", "ws2/state.py",
       "ws2/store.py", "ws2/upcalls.py", "providers/__init__.py", "providers/wspm/__init__.py")


def _claims(rel):
    for name, _, patterns, _ in TABLE:
        if any(fnmatch.fnmatchcase(rel, p) for p in patterns):
            return name
    return CORE


def packages():
    """Return [{name, description, deps, files: [(source path, path inside /lib)]}], packages with files only."""
    files = {}
    for src, rel in bundle.sources():
        files.setdefault(_claims(rel), []).append((src, rel))
    out = []
    for name, text, _, deps in TABLE:
        if name in files:
            out.append({"name": name, "description": text, "deps": [d for d in deps if d in files],
                        "files": files[name]})
    return out


def by_name():
    """Return {package name: package} (see packages())."""
    return {p["name"]: p for p in packages()}


def closure(name, table=None):
    """Return the names of name and every package it needs, dependencies first."""
    table = table or by_name()
    out = []

    def visit(n):
        if n in out:
            return
        for d in table[n]["deps"]:
            visit(d)
        out.append(n)

    visit(name)
    return out


def package_of(rel):
    """Return the name of the package that holds the module at rel (a path inside /lib)."""
    return _claims(rel)
