# Soak, section 3: catalog and settings changes for the host to cut the power in. MIT licence; part of ws2 for
# MicroPython. Runs after soak_lib.py.
#
# One cycle of six steps - install a provider, reverse the provider order,
# change the settings, restore the order, deinstall the provider, change the
# settings back - each a power-safe write to flash. The cycle starts from
# whatever state the flash holds (a step that is already done is skipped), so
# it can be cut anywhere and run again. P["cycles"] = 0 runs until the power
# goes; otherwise it runs that many cycles and prints every state it passes
# through ("@ST (catalog, settings)"), which is how the host learns the
# states a cut may leave.
from ws2 import catalog

PID = "{50A50A50-0000-4000-8000-0000000C0A7A}"
SETTINGS = ({"dns_timeout_ms": 2000, "hosts": {}}, {"dns_timeout_ms": 1111, "hosts": {"printer": "10.0.0.9"}})


def catalog_sig():
    catalog.ensure()
    return [(e[catalog.I_PROVIDER_ID], e[catalog.I_NAME]) for e in catalog.entries]  # provider id and protocol name, in catalog order


def settings_sig():
    c = ws2.config()
    return [c["dns_timeout_ms"], sorted(c["hosts"].items())]


def ids():
    catalog.ensure()
    return [e[catalog.I_CATALOG_ID] for e in catalog.entries]


def installed():
    catalog.ensure()
    return any(e[catalog.I_PROVIDER_ID] == PID for e in catalog.entries)


def base_order():
    # The order with every entry of PID after the others, the others in catalog-id order.
    catalog.ensure()
    i, c = catalog.I_PROVIDER_ID, catalog.I_CATALOG_ID
    mine = sorted(e[c] for e in catalog.entries if e[i] == PID)
    return sorted(e[c] for e in catalog.entries if e[i] != PID) + mine


def step(k):
    if k == 0:
        if not installed():
            info = ws2.WSAProtocolInfo(address_family=2, socket_type=2, protocol=17, provider_flags=8,
                                       protocol_chain=(1,), protocol_name="soak cut")
            ws2.WSCInstallProvider(PID, "providers.wspm", [info])
    elif k == 1:
        if installed():
            ws2.WSCWriteProviderOrder(list(reversed(base_order())))
    elif k == 2:
        ws2.config(**SETTINGS[1])
    elif k == 3:
        if ids() != base_order():
            ws2.WSCWriteProviderOrder(base_order())
    elif k == 4:
        if installed():
            ws2.WSCDeinstallProvider(PID)
    else:
        ws2.config(**SETTINGS[0])


def state_line():
    print("@ST " + repr((catalog_sig(), settings_sig())))


if P["cycles"]:
    state_line()
    for _ in range(P["cycles"]):
        for k in range(6):
            step(k)
            state_line()
else:
    print("LOOP")
    i = 0
    while True:
        step(i % 6)
        i += 1
