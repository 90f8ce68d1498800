# providers/lspinst: install the capture and faults layers as chains over entries already in the catalog.
# MIT licence; part of ws2 for MicroPython. What docs/layers.md's snippets call; run once, the catalog is on flash.
import ws2

CAPTURE_ID = "{6A3F0C2E-41B7-4D8A-9C55-0E2B7D1A3C61}"
FAULTS_ID = "{6A3F0C2E-41B7-4D8A-9C55-0E2B7D1A3C62}"
_LAYERS = {"capture": (CAPTURE_ID, "providers.capture", "ws2 capture layer"),
           "faults": (FAULTS_ID, "providers.faults", "ws2 faults layer")}


def install(which, over, first=False):
    """Install layer which ('capture' or 'faults') over the catalog ids in over; return the new chain ids.

    Each id in over may be a base entry (1001 TCP/IPv4, 1002 UDP/IPv4, ...)
    or another layer's chain entry: the new chain then runs through both.
    With first, the new chains go to the front of the catalog, so plain
    socket() calls (and nspm's DNS sockets) land on them.
    """
    pid, path, name = _LAYERS[which]
    by_id = {}
    for p in ws2.WSCEnumProtocols():
        by_id[p.catalog_entry_id] = p
    lower = [by_id[i] for i in over]
    infos = [ws2.WSAProtocolInfo(protocol_chain=(), address_family=lower[0].address_family, socket_type=1,
                                 protocol=6, protocol_name=name, provider_flags=0x04)]
    for p in lower:
        chain = p.protocol_chain if len(p.protocol_chain) > 1 else (p.catalog_entry_id,)
        infos.append(ws2.WSAProtocolInfo(
            protocol_chain=(0,) + tuple(chain), address_family=p.address_family, socket_type=p.socket_type,
            protocol=p.protocol, service_flags1=p.service_flags1, provider_flags=p.provider_flags & 0x08,
            max_sockaddr=p.max_sockaddr, min_sockaddr=p.min_sockaddr, message_size=p.message_size,
            security_scheme=p.security_scheme, protocol_name="%s over %s" % (which, p.protocol_name)))
    ids = ws2.WSCInstallProvider(pid, path, infos)[1:]
    if first:
        order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
        for i in ids:
            order.remove(i)
        ws2.WSCWriteProviderOrder(list(ids) + order)
    return list(ids)


def ssllsp_over(chain_id):
    """Add an ssllsp chain over another layer's chain (TLS above it: that layer sees the TLS records); its id."""
    from ws2.defcatalog import SSLLSP_ID, SSLLSP_PATH

    mine = sorted((p for p in ws2.WSCEnumProtocols() if p.provider_id == SSLLSP_ID), key=lambda p: p.catalog_entry_id)
    layer_id = [p.catalog_entry_id for p in mine if not p.protocol_chain][0]
    below = [p for p in ws2.WSCEnumProtocols() if p.catalog_entry_id == chain_id][0]
    top = [p for p in mine if p.protocol_chain and p.protocol_chain[-1] == below.protocol_chain[-1]][0]
    chain = (layer_id,) + below.protocol_chain
    new = ws2.WSAProtocolInfo()
    for k in ("service_flags1", "provider_flags", "address_family", "max_sockaddr", "min_sockaddr", "socket_type",
              "protocol", "security_scheme"):
        setattr(new, k, getattr(top, k))
    new.protocol_chain = chain
    new.protocol_name = "TLS over " + below.protocol_name
    ws2.WSCUpdateProvider(SSLLSP_ID, SSLLSP_PATH, mine + [new])
    return [p.catalog_entry_id for p in ws2.WSCEnumProtocols() if p.protocol_chain == chain][0]


def remove(which):
    """Deinstall a layer installed by install (refused while it has open sockets)."""
    ws2.WSCDeinstallProvider(_LAYERS[which][0])
