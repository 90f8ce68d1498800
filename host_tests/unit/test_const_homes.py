"""Every private `_NAME = const(N)` copy in ws2/ and providers/ agrees with NAME's one home.

MicroPython folds a `const()` only inside the module that defines it, so hot modules keep
private copies of shared numbers (proc-table slots, handle flags, request kinds, Winsock
values). A copy that drifts would call the wrong provider function or test the wrong bit
without any error; this test reads every copy and checks it against the home.
"""
import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The homes: each public integer they define is the one value of that name.
HOMES = ("ws2.const", "ws2.spiconst", "ws2.nsconst", "ws2.tlsconst", "ws2.errors", "ws2.handles",
         "ws2.overlapped")


def _homes():
    values = {}
    for mod_name in HOMES:
        mod = importlib.import_module(mod_name)
        for name in dir(mod):
            value = getattr(mod, name)
            if name.isupper() and type(value) is int:
                assert values.get(name, (value,))[0] == value, (name, mod_name, values[name])
                values[name] = (value, mod_name)
    return values


def _copies():
    for path in sorted(list(ROOT.glob("ws2/**/*.py")) + list(ROOT.glob("providers/**/*.py"))):
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                    and getattr(node.value.func, "id", "") == "const"):
                continue
            name = node.targets[0].id
            if name.startswith("_"):
                yield path.relative_to(ROOT).as_posix(), node.lineno, name[1:], ast.literal_eval(node.value.args[0])


def test_every_private_copy_equals_its_home():
    homes = _homes()
    wrong = [f"{path}:{line}: _{name} = {value}, {homes[name][1]}.{name} = {homes[name][0]}"
             for path, line, name, value in _copies() if name in homes and homes[name][0] != value]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_the_copies():
    # The copies it must find exist (a parser that found nothing would pass silently).
    names = {name for _p, _l, name, _v in _copies()}
    assert {"WSP_RECV", "WSP_SEND", "F_PENDING", "F_EVENTS"} <= names
    homes = _homes()
    assert homes["F_PENDING"][1] == "ws2.handles" and homes["WSP_RECV"][1] == "ws2.spiconst"


@pytest.mark.parametrize("kind", ["SEND", "RECV", "SENDTO", "RECVFROM", "IOCTL"])
def test_request_kinds_are_distinct(kind):
    ov = importlib.import_module("ws2.overlapped")
    kinds = [getattr(ov, k) for k in ("SEND", "RECV", "SENDTO", "RECVFROM", "IOCTL")]
    assert kinds.count(getattr(ov, kind)) == 1
