# host_tests/host_fixtures: the host side of every test: echo and address-view peers on host_ip,
# a closed port, a device test's `env`, and a fresh ws2 state per CPython test.
# MIT licence; part of ws2 for MicroPython.
import sys

import pytest

from firmware.peers import EchoServer


@pytest.fixture(scope="session")
def host_ip(request):
    """Address at which the board reaches servers on this host."""
    return request.config.getoption("--host-ip") or "127.0.0.1"


@pytest.fixture(scope="session")
def tcp_echo(host_ip):
    """A TCP echo server on host_ip (session-wide)."""
    with EchoServer(host_ip) as s:
        yield s


@pytest.fixture(scope="session")
def udp_echo(host_ip):
    """A UDP echo server on host_ip (session-wide)."""
    with EchoServer(host_ip, udp=True) as s:
        yield s


class Env:
    """What a device test gets as `env`: host peers' addresses, and skip()."""

    def __init__(self, values, skip):
        self.__dict__.update(values)
        self._skip = skip

    def skip(self, reason):
        """Skip the running test with a reason."""
        self._skip(reason)


@pytest.fixture(scope="session")
def peer_view(host_ip):
    """TCP and UDP servers that answer with the client's address as they see it ("ip port\\n"); ENV entry."""
    with EchoServer(host_ip, view=True) as t, EchoServer(host_ip, udp=True, view=True) as u:
        yield {"tcp_view_port": t.port, "udp_view_port": u.port}


@pytest.fixture(scope="session")
def closed_port(host_ip):
    """A TCP port on host_ip with nothing listening (bound once, then closed)."""
    import socket

    s = socket.socket()
    s.bind((host_ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def env_values(request, module_env, tcp_echo, udp_echo, host_ip):
    """The values of a device test's env: the host peers, plus the dicts of the fixtures named in its ENV."""
    values = {"host_ip": host_ip, "tcp_echo_port": tcp_echo.port, "udp_echo_port": udp_echo.port,
              "closed_port": request.getfixturevalue("closed_port")}
    for name in module_env:
        extra = request.getfixturevalue(name)
        values.update(extra if isinstance(extra, dict) else extra.env())
    return values


@pytest.fixture
def env(request, tcp_echo, udp_echo, host_ip, ws2_clean):
    """The env of a device test module run on CPython."""
    names = getattr(request.module, "ENV", ())
    return Env(env_values(request, names, tcp_echo, udp_echo, host_ip), pytest.skip)


@pytest.fixture
def ws2_clean(tmp_path, monkeypatch):
    """Fresh ws2 state on CPython: its own flash root, nothing started, defaults loaded on demand."""
    monkeypatch.setenv("WS2_ROOT", str(tmp_path / "ws2root"))
    reset_ws2()
    yield
    reset_ws2()


def reset_ws2():
    """Bring an imported ws2 back to its just-imported state (nothing to do before its first import)."""
    ws2 = sys.modules.get("ws2")
    if ws2 is not None:
        ws2._reset()
