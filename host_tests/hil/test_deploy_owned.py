# `make deploy` owns only what it installed: a user's own provider in /lib/providers survives a
# deploy and the catalog that names it keeps working; a deploy that would remove a module the
# catalog names refuses, naming the entry. MIT licence; part of ws2 for MicroPython.
import os

import pytest

from firmware import deploy as dep
from firmware.device import Board
from firmware.vboard import VirtualBoard

MINE_ID = "{0DDBA11D-0000-4000-8000-00000000A1E5}"
MINE = "from providers.wspm import WSPStartup  # a user's provider: wspm under another name\n"
INSTALL = """
import ws2
info = ws2.WSAProtocolInfo(address_family=2, socket_type=1, protocol=6, provider_flags=8, protocol_chain=(1,),
                           protocol_name='mine [TCP/IP]')
ids = ws2.WSCInstallProvider(%r, %%r, [info])
order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
ws2.WSCWriteProviderOrder(ids + [i for i in order if i not in ids])
""" % MINE_ID
ECHO = """
import ws2
ws2.WSAStartup(0x0202)
s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
ws2.connect(s, ('127.0.0.1', %d))
ws2.send(s, b'mine')
got = ws2.recv(s, 4)
import sys
via = %r in sys.modules
ws2.closesocket(s)
ws2.WSACleanup()
print(got, via)
"""


@pytest.fixture
def vb(request):
    if request.config.getoption("--port"):
        pytest.skip("drives a virtual board of its own")
    v = VirtualBoard("UNIX", micropython=request.config.getoption("--micropython"))
    v.start()
    yield v
    v.stop()


def run(vb, code):
    b = Board(vb.device)
    try:
        return b.exec(code).strip().splitlines()[-1]
    finally:
        b.close()


def test_deploy_keeps_a_users_provider_and_the_catalog_works(vb, tcp_echo, frozen_ws2):
    files = dep.snapshot("UNIX")
    dep.deploy(vb.device, "UNIX", log=lambda m: None, files=files)
    # With the providers package frozen in, its modules all come from the firmware: a provider of one's
    # own is then a module of its own name (docs/install.md).
    mine = ("lib", "mine.py") if frozen_ws2 else ("lib", "providers", "mine.py")
    module = "mine" if frozen_ws2 else "providers.mine"
    with open(os.path.join(vb.flash, *mine), "w") as f:
        f.write(MINE)
    run(vb, INSTALL % module + "print('ok')")
    assert run(vb, ECHO % (tcp_echo.port, module)) == "b'mine' True"
    # A later deploy with a changed bundle: it copies, and removes only what it installed.
    changed = [(p, d + b"\n") if p == "/boot.py" else (p, d) for p, d in files]
    log = []
    dep.deploy(vb.device, "UNIX", log=log.append, files=changed)
    assert os.path.exists(os.path.join(vb.flash, *mine))
    assert not any("removed" in line for line in log)
    assert run(vb, ECHO % (tcp_echo.port, module)) == "b'mine' True"
    with open(os.path.join(vb.flash, ".ws2", "deployed")) as f:
        assert sorted(f.read().split()) == sorted(p for p, _ in files)


def test_deploy_refuses_to_remove_a_module_the_catalog_names(vb):
    files = dep.snapshot("UNIX")
    dep.deploy(vb.device, "UNIX", log=lambda m: None, files=files)
    # ssllsp is a package: leaving out one of its modules is refused as well as leaving out all of them.
    part = [(p, d) for p, d in files if p != "/lib/providers/ssllsp/certs.mpy"]
    with pytest.raises(dep.DeployError) as e:
        dep.deploy(vb.device, "UNIX", log=lambda m: None, files=part)
    assert "providers.ssllsp" in str(e.value) and "certs.mpy" in str(e.value)
    without = [(p, d) for p, d in files if not p.startswith("/lib/providers/ssllsp/")]
    with pytest.raises(dep.DeployError) as e:
        dep.deploy(vb.device, "UNIX", log=lambda m: None, files=without)
    msg = str(e.value)
    assert "providers.ssllsp" in msg and "ws2 SSL layer [ssllsp]" in msg and "catalog entry 1005" in msg
    assert os.path.exists(os.path.join(vb.flash, "lib", "providers", "ssllsp", "__init__.mpy"))
    # Once the catalog no longer names it, the same deploy goes through and removes it.
    run(vb, "import ws2\nws2.WSCDeinstallProvider(%r)\nprint('ok')" % "{5C1B6E2A-9D47-4F3B-8E21-7A0C44D9B713}")
    log = []
    dep.deploy(vb.device, "UNIX", log=log.append, files=without)
    assert any("removed /lib/providers/ssllsp/__init__.mpy" in line for line in log)
    run(vb, "from ws2 import catalog\ncatalog.reset()\nprint('ok')")
