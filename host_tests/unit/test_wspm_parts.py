"""providers/wspm is one provider in parts: the core declares each _Sock.state bit once, every part's copy
agrees with it, and the proc table is the 30 slots in Winsock's order with the parts loaded only on use."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "providers" / "wspm"
PARTS = ("addrtext", "listen", "options", "poller", "stream")


def _consts(path):
    out = {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "const"):
            out[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return out


def _state_bits():
    # The core's block of _Sock.state bits: from _V6 to _POLLABLE.
    core = _consts(PKG / "__init__.py")
    names = list(core)
    block = names[names.index("_V6") : names.index("_POLLABLE") + 1]
    return {n: core[n] for n in block}


def test_the_parts_are_the_package():
    assert sorted(p.stem for p in PKG.glob("*.py")) == sorted(("__init__",) + PARTS)
    assert not (ROOT / "providers" / "wspm.py").exists()


def test_each_state_bit_is_one_distinct_bit():
    bits = _state_bits()
    singles = {n: v for n, v in bits.items() if n not in ("_INHERIT", "_POLLABLE")}
    assert len(singles) == 16
    assert all(v and v & (v - 1) == 0 for v in singles.values())
    assert len(set(singles.values())) == len(singles)
    # The two masks are made of the bits they name.
    o_bits = [v for n, v in singles.items() if n.startswith("_O_")]
    assert bits["_INHERIT"] == singles["_V6"] | singles["_NONBLOCK"] | sum(o_bits)
    assert bits["_POLLABLE"] == singles["_DGRAM"] | singles["_LISTENING"] | singles["_CONNECTED"] | singles["_CONNECTING"]


def test_every_part_copies_the_cores_values():
    core = _consts(PKG / "__init__.py")
    bits = _state_bits()
    wrong = []
    bits_seen = False  # a check that found no copy would pass silently
    for part in PARTS:
        for name, value in _consts(PKG / (part + ".py")).items():
            if name in core and core[name] != value:
                wrong.append("%s.%s = %r, the core's = %r" % (part, name, value, core[name]))
            if name in bits:
                bits_seen = True
    assert not wrong, "\n".join(wrong)
    assert bits_seen


def test_table_slots_and_lazy_parts():
    # In a fresh interpreter: importing the core loads no part; a cold slot loads its own part only.
    code = (
        "import sys\n"
        "import providers.wspm as w\n"
        "from ws2 import spiconst as s\n"
        "assert not [m for m in sys.modules if m.startswith('providers.wspm.')], sys.modules\n"
        "t = w._TABLE\n"
        "assert type(t) is tuple and len(t) == s.WSP_TABLE_SIZE and all(callable(f) for f in t)\n"
        "assert t[s.WSP_SEND] is w.WSPSend and t[s.WSP_RECV] is w.WSPRecv and t[s.WSP_SOCKET] is w.WSPSocket\n"
        "assert t[s.WSP_CLEANUP] is w.WSPCleanup and t[s.WSP_IOCTL] is w.WSPIoctl\n"
        "assert t[s.WSP_STRINGTOADDRESS]('1.2.3.4:80', 2, None) == ('1.2.3.4', 80)\n"
        "print(sorted(m for m in sys.modules if m.startswith('providers.wspm.')))\n"
        "import importlib\n"
        "for n in ('WSPAccept', 'WSPListen', 'WSPGetPeerName', 'WSPGetSockName', 'WSPShutdown', 'WSPSendDisconnect',\n"
        "          'WSPRecvDisconnect', 'WSPJoinLeaf', 'WSPAddressToString', 'WSPStringToAddress', 'WSPSelect',\n"
        "          'WSPDuplicateSocket'):\n"
        "    assert callable(getattr(importlib.import_module('providers.wspm.' + w._home(n)), n)), n\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["['providers.wspm.addrtext']"]
