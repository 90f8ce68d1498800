# The transport catalog and the settings on a board's flash: they survive a soft reset, a corrupt
# file falls back to the default catalog with a warning (never without networking), and an
# interpreter killed at random instants while it rewrites the catalog always leaves the old or
# the new catalog. MIT licence; part of ws2 for MicroPython.
import ast
import os
import random
import time

import pytest

from ws2 import catalog, store

TEST_ID = "{7E57AB1E-0000-4000-8000-00000000CA7A}"
ENUM = "[(p.catalog_entry_id, p.provider_id, p.protocol_name) for p in __import__('ws2').WSCEnumProtocols()]"
RESTORE = ("from ws2 import catalog, settings\ncatalog.reset()\nsettings.reset()")
INSTALL = """
import ws2
info = ws2.WSAProtocolInfo(address_family=2, socket_type=2, protocol=17, provider_flags=8, protocol_chain=(1,),
                           protocol_name='persist test')
ids = ws2.WSCInstallProvider(%r, 'providers.wspm', [info, info])
order = [p.catalog_entry_id for p in ws2.WSCEnumProtocols()]
ws2.WSCWriteProviderOrder(order[-1:] + order[:-1])
ws2.config(dns_timeout_ms=1234, hosts={'printer': '10.0.0.9'})
print(ids)
""" % TEST_ID


def test_catalog_and_settings_survive_a_soft_reset(device):
    device.exec(RESTORE)
    default = device.eval(ENUM)
    ids = ast.literal_eval(device.exec(INSTALL).strip().splitlines()[-1])
    before = device.eval(ENUM)
    assert [e[0] for e in before] == [ids[1]] + [e[0] for e in default] + [ids[0]]
    device.soft_reset()
    assert device.eval(ENUM) == before  # same entries, same ids, same order
    got = device.eval("__import__('ws2').config()")
    assert got["dns_timeout_ms"] == 1234 and got["hosts"] == {"printer": "10.0.0.9"}
    # the installed entry still makes sockets after the reset
    device.exec("import ws2\nws2.WSAStartup(0x0202)\ninfo = [p for p in ws2.WSAEnumProtocols() if p.catalog_entry_id == %d][0]\n"
                "ws2.closesocket(ws2.WSASocket(0, 0, 0, info))\nws2.WSACleanup()" % ids[0])
    device.exec(RESTORE)
    device.soft_reset()
    assert device.eval(ENUM) == default
    assert device.eval("__import__('ws2').config()['dns_timeout_ms']") == 2000


CORRUPT = """
from ws2 import store
import os
store.save('catalog', b'{"format": 1, "this is": "not a catalog"')
store.save('catalog', b'[]')
"""
GARBAGE = """
from ws2 import store
for i in (0, 1):
    f = open(store._path('catalog', i), 'wb')
    f.write(b'\\xff' * 40)
    f.close()
"""
CHECK = """
from ws2 import catalog
catalog.forget()
catalog.ensure()
import ws2
ws2.WSAStartup(0x0202)
s = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
ws2.closesocket(s)
ws2.WSACleanup()
print('NETWORKING OK', len(catalog.entries))
"""


@pytest.mark.parametrize("damage,warning", [(CORRUPT, "catalog unreadable"), (GARBAGE, "catalog file is corrupt")])
def test_corrupt_catalog_falls_back_to_the_default_with_a_warning(device, damage, warning):
    device.exec(RESTORE)
    default = device.eval(ENUM)
    device.exec(damage)
    device.soft_reset()  # boot.py loads the catalog too; the check below loads it again and shows the warning
    out = device.exec(CHECK)
    assert "ws2: warning:" in out and warning in out and "using the default catalog" in out, out
    assert "NETWORKING OK %d" % len(default) in out
    assert device.eval(ENUM) == default
    device.exec(RESTORE)


# -- torn writes: kill the interpreter while it rewrites the catalog -------------------------------

KILLS = int(os.environ.get("WS2_TORN_KILLS", "60"))
LOOP = """
import ws2
a = %r
b = %r
print('LOOP')
i = 0
while True:
    ws2.WSCWriteProviderOrder(b if i & 1 else a)
    i += 1
"""
BOARD_VIEW = "from ws2 import catalog\ncatalog.forget()\ncatalog.ensure()\nprint([e[6] for e in catalog.entries])"


def _slot_state(data):
    if data is None:
        return "missing"
    if store.unframe(data) is not None:
        return "good"
    if not data:
        return "empty (killed after truncating)"
    return "header only" if len(data) == 16 else "torn at byte %d" % len(data)


def test_torn_catalog_writes_leave_the_old_or_the_new_catalog(request):
    from firmware.deploy import deploy
    from firmware.device import Board
    from firmware.vboard import VirtualBoard

    name = request.config.getoption("--board")
    if request.config.getoption("--port"):
        pytest.skip("kills a virtual board's interpreter; a real board is not killed from here")
    vb = VirtualBoard(name)
    vb.start()
    b = None
    try:
        b = Board(vb.device)
        deploy(b, name, log=lambda m: None)
        b.exec(INSTALL)
        a = ast.literal_eval(b.exec("import ws2\nprint([p.catalog_entry_id for p in ws2.WSCEnumProtocols()])").strip())
        rev = list(reversed(a))
        root = os.path.join(vb.flash, b.eval("__import__('ws2.board').board.root()").lstrip("/"))
        rng = random.Random(int(os.environ.get("WS2_TORN_SEED", "1")))
        seen = {}
        states = {}
        for k in range(KILLS):
            b.t.exec_raw_no_follow(LOOP % (a, rev))
            b.t.read_until(1, b"LOOP", timeout=20)
            time.sleep(rng.uniform(0.0, 0.03))
            vb.crash()
            time.sleep(0.05)
            # what the power cut left on flash, slot by slot
            slots = [None, None]
            for i in (0, 1):
                try:
                    with open(os.path.join(root, "catalog.%d" % i), "rb") as f:
                        slots[i] = f.read()
                except OSError:
                    pass
                st = _slot_state(slots[i])
                states[st] = states.get(st, 0) + 1
            got = store.pick(slots[0], slots[1])
            assert got is not None, "kill %d left no good catalog: %r" % (k, states)
            order = [e[catalog.I_CATALOG_ID] for e in catalog.decode(got[2])[0]]
            assert order in (a, rev), "kill %d left a catalog that is neither: %r" % (k, order)
            which = "old/new A" if order == a else "old/new B"
            seen[which] = seen.get(which, 0) + 1
            # the board, booted again, reads the same catalog and says nothing about corruption
            b.recover()
            out = b.exec(BOARD_VIEW)
            assert "warning" not in out, out
            assert ast.literal_eval(out.strip().splitlines()[-1]) == order, (k, out)
        print("\ntorn-write test: %d kills; catalog after kill: %r; slot states seen: %r" % (KILLS, seen, states))
        b.exec(RESTORE)
    finally:
        if b is not None:
            b.close()
        vb.stop()
