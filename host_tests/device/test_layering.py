# Device tests: layered providers: installing a chain, catalog order, passing calls down, close order, broken chains.
# Runs on CPython and on the board. MIT licence; part of ws2 for MicroPython.
import sys

import ws2
from devhelp import catalog_entry, err, put_first, stop

TIMEOUT = 120

# The emulated RP2040 (docs/emulator.md) has no network.
BOARD_SKIP = {"RPI_PICO_W_EMU": {
    'test_install_and_order_decide_where_socket_lands': 'no network on the emulated board',
    'test_two_layers_over_one_base': 'no network on the emulated board',
    'test_cleanup_closes_layers_first': 'no network on the emulated board',
    'test_chain_missing_its_lower_entry_fails_clearly': 'no network on the emulated board',
}}

EX_ID = "{E0A5C1D2-0B7E-4C3A-9F11-2D4B6A8C0E13}"  # the example layer, installed by these tests
EX2_ID = "{E0A5C1D2-0B7E-4C3A-9F11-2D4B6A8C0E14}"  # a second example chain stacked on the first


def info(name, chain, af=2, typ=1, proto=6, sa=16):
    """A WSAProtocolInfo for a TCP-like entry (chain () = layer, (0, ...) = chain over this call's layer)."""
    return ws2.WSAProtocolInfo(service_flags1=0x26, provider_flags=0x08, protocol_chain=chain, address_family=af,
                               max_sockaddr=sa, min_sockaddr=sa, socket_type=typ, protocol=proto,
                               protocol_name=name)


def install_example(over=1001):
    """Install the example layer over catalog entry `over`; return (layer id, chain id)."""
    return ws2.WSCInstallProvider(EX_ID, "providers.example_lsp",
                                  [info("example layer", ()), info("example over TCP", (0, over))])


def stats():
    return sys.modules["providers.example_lsp"].stats


def echo(env, s, payload):
    assert ws2.send(s, payload) == len(payload)
    got = b""
    while len(got) < len(payload):
        d = ws2.recv(s, 512)
        assert d, "peer closed early"
        got += d
    assert got == payload, got


def test_install_and_order_decide_where_socket_lands(env):
    ws2.WSAStartup(0x0202)
    try:
        layer, chain = install_example()
        e = catalog_entry(chain)
        assert e.protocol_chain == (layer, 1001), e.protocol_chain
        assert catalog_entry(layer).protocol_chain == ()
        # Installed at the end: socket() still lands on the base entry.
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        echo(env, s, b"plain")
        assert "providers.example_lsp" not in sys.modules or stats()["sent"] == 0
        ws2.closesocket(s)
        # Chain first: the same call goes through the layer.
        put_first(chain)
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        echo(env, s, b"layered!")
        assert stats()["sent"] == 8 and stats()["received"] == 8, stats()
        ws2.closesocket(s)
        err(ws2.WSAENOTSOCK, ws2.send, s, b"x")
        # And an explicit protocol_info picks the base entry whatever the order.
        t = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, catalog_entry(1001))
        ws2.connect(t, (env.host_ip, env.tcp_echo_port))
        before = stats()["sent"]
        echo(env, t, b"base")
        assert stats()["sent"] == before
        ws2.closesocket(t)
    finally:
        stop()
        ws2.catalog.reset()


def test_two_layers_over_one_base(env):
    ws2.WSAStartup(0x0202)
    try:
        layer, chain = install_example()
        ids = ws2.WSCInstallProvider(EX2_ID, "providers.example_lsp",
                                     [info("example layer 2", ()), info("example over example", (0, layer, 1001))])
        assert catalog_entry(ids[1]).protocol_chain == (ids[0], layer, 1001)
        put_first(ids[1])
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        echo(env, s, b"twice")
        # Both layers are the same module: every byte is counted once per layer.
        assert stats()["sent"] == 10 and stats()["received"] == 10, stats()
        assert stats()["sockets"] == 2
        ws2.closesocket(s)
    finally:
        stop()
        ws2.catalog.reset()


def test_cleanup_closes_layers_first(env):
    # Sockets left open over two layers: the last WSACleanup must close each
    # top layer before what it owns below, never a lower socket behind its back.
    ws2.WSAStartup(0x0202)
    try:
        layer, chain = install_example()
        ids = ws2.WSCInstallProvider(EX2_ID, "providers.example_lsp",
                                     [info("example layer 2", ()), info("example over example", (0, layer, 1001))])
        put_first(ids[1])
        open_ = []
        for k in range(3):
            s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
            ws2.connect(s, (env.host_ip, env.tcp_echo_port))
            open_.append(s)
        plain = ws2.WSASocket(ws2.AF_INET, ws2.SOCK_STREAM, 0, catalog_entry(1001))
        assert len(ws2.handles.open_handles()) == 3 * 3 + 1
        ws2.WSACleanup()
        assert ws2.handles.open_handles() == []
        ws2.WSAStartup(0x0202)
        for s in open_ + [plain]:
            err(ws2.WSAENOTSOCK, ws2.send, s, b"x")
    finally:
        stop()
        ws2.catalog.reset()


def test_refused_chains(env):
    ws2.WSAStartup(0x0202)
    try:
        # Lower entries must exist, and a chain must end at a base entry.
        err(ws2.WSAEINVAL, ws2.WSCInstallProvider, EX_ID, "providers.example_lsp",
               [info("layer", ()), info("over nothing", (0, 4242))])
        err(ws2.WSAEINVAL, ws2.WSCInstallProvider, EX_ID, "providers.example_lsp",
               [info("layer", ()), info("over a layer", (0, 1005))])
        # Between its ends a chain names layered entries only, not another chain.
        err(ws2.WSAEINVAL, ws2.WSCInstallProvider, EX_ID, "providers.example_lsp",
               [info("layer", ()), info("through a chain", (0, 1006, 1001))])
        assert ws2.WSCEnumProtocols()[-1].protocol_name != "layer"  # nothing half installed
    finally:
        stop()
        ws2.catalog.reset()


def test_chain_missing_its_lower_entry_fails_clearly(env):
    ws2.WSAStartup(0x0202)
    try:
        layer, chain = install_example()
        ids = ws2.WSCInstallProvider(EX2_ID, "providers.example_lsp",
                                     [info("example layer 2", ()), info("example over example", (0, layer, 1001))])
        try:
            ws2.WSCDeinstallProvider(EX_ID)  # the router may refuse while a chain needs it...
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAEINVAL
            # ...so lose the entries the way a stale or hand-edited catalog would.
            ws2.catalog.entries[:] = [e for e in ws2.catalog.entries if e[5] != EX_ID]
        e = err(ws2.WSAEPROVIDERFAILEDINIT, ws2.WSASocket, ws2.AF_INET, ws2.SOCK_STREAM, 0, catalog_entry(ids[1]))
        assert "no longer installed" in str(e), e
        # The router is still fine.
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        echo(env, s, b"still here")
        ws2.closesocket(s)
    finally:
        stop()
        ws2.catalog.reset()


# -- re-homing: a layer put over an open socket (ws2.rehome) ---------------------------------------

def test_rehome_a_connected_socket_under_a_layer(env):
    from ws2 import rehome

    ws2.WSAStartup(0x0202)
    try:
        layer, chain = install_example()
        assert rehome.chain_over(1001) is not None  # the ssllsp chain comes first in catalog order
        assert rehome.chain_over(1001, 0) == chain
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(s, (env.host_ip, env.tcp_echo_port))
        echo(env, s, b"before")
        assert "providers.example_lsp" not in sys.modules
        assert rehome.rehome(s, chain) == 0
        low = ws2.WSAIoctl(s, ws2.SIO_BASE_HANDLE)
        assert low != s and sorted(ws2.handles.open_handles()) == sorted([s, low])
        echo(env, s, b"through the layer")  # the same connection, now through the layer
        assert stats()["sent"] == 17 and stats()["received"] == 17, stats()
        # A second layer over the first: the chain must extend the socket's own.
        err(ws2.WSAEINVAL, rehome.rehome, s, chain)
        err(ws2.WSAEINVAL, rehome.rehome, s, 1002)
        _, chain2 = ws2.WSCInstallProvider(EX2_ID, "providers.example_lsp",
                                           [info("example layer 2", ()), info("example over example", (0, layer, 1001))])
        rehome.rehome(s, chain2)
        assert ws2.WSAIoctl(s, ws2.SIO_BASE_HANDLE) == low and len(ws2.handles.open_handles()) == 3
        echo(env, s, b"two")
        assert stats()["sent"] == 17 + 2 * 3, stats()  # both example layers counted
        ws2.closesocket(s)  # closes every layer and the socket below
        assert ws2.handles.open_handles() == []
        err(ws2.WSAENOTSOCK, ws2.WSAIoctl, low, ws2.SIO_BASE_HANDLE)
        # A shared (duplicated) socket keeps its handles: refused, nothing changed.
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        d = ws2.WSASocket(ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO, ws2.FROM_PROTOCOL_INFO,
                          ws2.WSADuplicateSocket(s))
        err(ws2.WSAEOPNOTSUPP, rehome.rehome, s, chain)
        assert sorted(ws2.handles.open_handles()) == sorted([s, d])
        assert ws2.WSAIoctl(s, ws2.SIO_BASE_HANDLE) == s
        ws2.closesocket(d)
        ws2.closesocket(s)
        # Left under a layer at cleanup: closed in layer order, nothing leaks.
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        rehome.rehome(s, chain)
    finally:
        stop()
        assert ws2.handles.open_handles() == []
        ws2.catalog.reset()
