"""The type stubs (stubs/ble.pyi, stubs/network.pyi) against the firmware
(issue 8): every public name the firmware's modules and classes have
(dir() over the REPL) is in the stubs, the stubs have nothing the firmware
lacks, and every constant the stubs give a value has that value on the
firmware. Public = not starting with '_'; mpble's own names (`mpble*`)
count like any other.

The five GATT types are not attributes of the firmware's `network` module
(nor of Pycom's): their names come from objects the API returns
(Bluetooth.service(), .characteristic(), and, against a Bumble peripheral,
connect(), services(), characteristics()), and the stubs declare them at
module level beside Bluetooth.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mpble_harness import repo_root
from pycom_peers import named_peer, pycom_central

STUBS = repo_root() / "stubs"
GATT_TYPES = ("GATTSService", "GATTSCharacteristic", "GATTCConnection", "GATTCService", "GATTCCharacteristic")


def _members(body: list) -> dict:
    """Public names defined in a stub body -> the literal value given, or
    None (functions, classes, annotations without a value)."""
    out: dict = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            value = ast.literal_eval(node.value) if node.value is not None else None
            out[node.target.id] = None if value is Ellipsis else value
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = None
    return {k: v for k, v in out.items() if not k.startswith("_")}


def stub(name: str) -> tuple[dict, dict]:
    """(module-level names, {class name: members})."""
    tree = ast.parse((STUBS / f"{name}.pyi").read_text())
    classes = {n.name: _members(n.body) for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")}
    return _members(tree.body), classes


# On the board: print the public names of an object, and its int attributes.
NAMES = """\
def _names(tag, o):
    print(tag, sorted(n for n in dir(o) if not n.startswith('_')))
def _ints(tag, o):
    print(tag, sorted((n, getattr(o, n)) for n in dir(o) if not n.startswith('_') and type(getattr(o, n)) is int))
"""


def board_list(board, code: str, tag: str, timeout: float = 30) -> list:
    out = board.exec(NAMES + code, timeout)
    m = re.search(rf"(?m)^{tag} (\[.*\])$", out)
    assert m, out
    return ast.literal_eval(m.group(1))


def compare(where: str, firmware: set, stubbed: set) -> list:
    problems = []
    if firmware - stubbed:
        problems.append(f"{where}: in the firmware, not in the stubs: {sorted(firmware - stubbed)}")
    if stubbed - firmware:
        problems.append(f"{where}: in the stubs, not in the firmware: {sorted(stubbed - firmware)}")
    return problems


def test_ble_stub_matches_the_firmware(board):
    module, classes = stub("ble")
    assert not classes
    names = board_list(board, "import ble\n_names('BLE', ble)", "BLE")
    problems = compare("ble", set(names), set(module))
    assert not problems, "\n".join(problems)


def test_network_stub_matches_bluetooth(board):
    module, classes = stub("network")
    assert set(GATT_TYPES) | {"Bluetooth"} <= set(classes), sorted(classes)
    problems = compare("network", set(board_list(board, "import network\n_names('NET', network)", "NET")), set(module) - set(GATT_TYPES))
    fw = board_list(board, "from network import Bluetooth\n_names('BT', Bluetooth)", "BT")
    problems += compare("Bluetooth", set(fw), set(classes["Bluetooth"]))
    ints = dict(board_list(board, "_ints('INTS', Bluetooth)", "INTS"))
    for name, value in classes["Bluetooth"].items():
        if value is not None and name in ints and ints[name] != value:
            problems.append(f"Bluetooth.{name}: firmware {ints[name]}, stub {value}")
    assert not problems, "\n".join(problems)


def test_network_stub_matches_the_gatt_server_types(board):
    _module, classes = stub("network")
    board.exec(
        "from network import Bluetooth\nbt = Bluetooth()\nsrv = bt.service(uuid=0xFFF0)\nch = srv.characteristic(uuid=0xFFF1, value=1)",
        15,
    )
    problems = []
    for tag, expr, want in (("S", "srv", "GATTSService"), ("C", "ch", "GATTSCharacteristic")):
        assert board.eval(f"type({expr}).__name__") == repr(want)
        problems += compare(want, set(board_list(board, f"_names({tag!r}, type({expr}))", tag)), set(classes[want]))
    assert not problems, "\n".join(problems)


def test_network_stub_matches_the_gatt_client_types(air, board):
    _module, classes = stub("network")
    named_peer(air, "stubs", b"v")
    pycom_central(board)
    board.exec("conn = find_connect('stubs')\nsvc = conn.services()[-1]\nch = svc.characteristics()[0]", 30)
    problems = []
    for tag, expr, want in (("CONN", "conn", "GATTCConnection"), ("SVC", "svc", "GATTCService"), ("CHR", "ch", "GATTCCharacteristic")):
        assert board.eval(f"type({expr}).__name__") == repr(want)
        problems += compare(want, set(board_list(board, f"_names({tag!r}, type({expr}))", tag)), set(classes[want]))
    board.exec("conn.disconnect()", 10)
    assert not problems, "\n".join(problems)


def test_stubs_parse_as_python():
    # An editor (or mypy/pyright) reads them: they must at least parse.
    for f in sorted(Path(STUBS).glob("*.pyi")):
        ast.parse(f.read_text(), filename=str(f))
