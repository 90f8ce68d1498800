"""ssllsp's connection state bits and engine operations: one home (providers/ssllsp/conn.py), checked copies.

MicroPython folds a private `_NAME = const(N)` only inside its own module, so the modules of the
providers/ssllsp package keep copies of the bits of Conn.state they test; a copy that drifted would
test the wrong bit without any error.
"""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "providers" / "ssllsp"


def _consts(path):
    out = {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "const"):
            out[node.targets[0].id] = (ast.literal_eval(node.value.args[0]), node.lineno)
    return out


def test_state_bit_copies_equal_conn():
    home = _consts(PKG / "conn.py")
    assert {"_SECURE", "_DEAD", "_NONBLOCK", "_READ", "_WRITE"} <= set(home)
    wrong = []
    seen = 0
    for path in sorted(PKG.glob("*.py")):
        if path.name == "conn.py":
            continue
        for name, (value, line) in _consts(path).items():
            if name in home and not name.startswith("_WSP_") and not name.startswith("_MSG_"):
                seen += 1
                if value != home[name][0]:
                    wrong.append("%s:%d: %s = %r, conn.py says %r" % (path.name, line, name, value, home[name][0]))
    assert seen, "no copies found: the check would pass silently"
    assert not wrong, "\n".join(wrong)


def test_state_bits_are_distinct():
    home = _consts(PKG / "conn.py")
    bits = [v for n, (v, _) in home.items() if n in ("_SECURE", "_CONNECTED", "_LISTENING", "_STARTED", "_DONE",
                                                    "_NONBLOCK", "_DEAD", "_HOOK_OK", "_WANT_IN", "_ADOPTED")]
    assert len(bits) == 10 and all(b and not b & (b - 1) for b in bits) and len(set(bits)) == 10
