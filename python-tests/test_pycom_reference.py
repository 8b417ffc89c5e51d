"""Pycom `network.Bluetooth`: the API's semantics the issue lists under
"What to build" that the seed examples do not exercise, written from the
reference (shared/reference/pycom-bluetooth-api.md, sections named below),
against Bumble peers.

- Singleton (§1): every Bluetooth() is the same object; deinit() then
  init() brings it back and it scans again.
- get_adv() (§2.4): a named tuple (mac, addr_type, adv_type, rssi, data),
  indexable; mac MSB first; data starts with the advertising payload.
- resolve_adv_data() (§10) on a buffer holding one AD structure of every
  type: int for flags and TX power (signed), str for names, the raw bytes
  for UUID lists, service data and manufacturer data (with their UUID /
  company id), None for an absent type; never an exception.
- events() (§2.7): bits accumulate without a callback and are cleared when
  read; advertising restarts after the client leaves (§2.9).
- connect() (§2.6, §13 item 3) takes the 12-hex-digit string the docs
  promise, as well as adv.mac.
"""

from __future__ import annotations

import time

from bumble.hci import OwnAddressType

from pycom_peers import named_peer, pycom_central, ffe0_services, wait_until
from qpy_common import adv_data_with_name, assert_no_traceback, board_address


def test_singleton_and_init_after_deinit(air, board):
    named_peer(air, "again", b"x")
    pycom_central(board)
    out = board.exec(
        """\
print('SAME', Bluetooth() is bt, Bluetooth(0) is bt, type(bt).__name__)
bt.deinit()
bt.init()
print('SAME', Bluetooth() is bt)
a = find_adv('again')
print('FOUND', a is not None)
c = bt.connect(a.mac, timeout=5000)
print('CONNECTED', c.isconnected())
c.disconnect()
""",
        30,
    )
    assert out.splitlines() == ["SAME True True Bluetooth", "SAME True", "FOUND True", "CONNECTED True"], out
    assert_no_traceback(board)


def test_get_adv_is_a_named_tuple(air, board):
    peer, _ = named_peer(air, "fields", b"x")
    pycom_central(board)
    out = board.exec(
        """\
a = find_adv('fields')
print('MAC', a.mac, a[0] == a.mac)
print('TYPES', a.addr_type, a.adv_type, a.rssi, a[1:4] == (a.addr_type, a.adv_type, a.rssi))
print('DATA', type(a.data).__name__, a.data[:11], a[4] == a.data)
""",
        20,
    )
    mac = bytes(peer.random_address)[::-1]
    adv = adv_data_with_name(b"fields")
    assert len(adv) == 11
    assert out.splitlines() == [
        f"MAC {mac!r} True",
        # random static address (1), ADV_IND/SCAN_RSP masked (0), Bumble's -50 dBm
        "TYPES 1 0 -50 True",
        f"DATA bytes {adv!r} True",
    ], out
    assert_no_traceback(board)


# One AD structure of each type (Core Supplement Part A 1.x), in one buffer.
AD = [
    (0x01, bytes([0x06])),  # flags
    (0x03, bytes.fromhex("0d180f18")),  # complete 16-bit list: 0x180D, 0x180F
    (0x08, b"short"),  # shortened name
    (0x09, b"complete"),  # complete name
    (0x0A, bytes([0xF8])),  # TX power -8 dBm
    (0x16, bytes.fromhex("0d18") + b"\x01\x02"),  # service data, UUID 0x180D
    (0xFF, bytes.fromhex("4c000215") + bytes(21)),  # iBeacon manufacturer data
]
DATA = b"".join(bytes([len(v) + 1, t]) + v for t, v in AD)


def test_resolve_adv_data_types(board):
    board.exec(f"from network import Bluetooth\nbt = Bluetooth()\nD = {DATA!r}", 10)
    want = {
        "ADV_FLAG": 6,
        "ADV_T16SRV_CMPL": bytes.fromhex("0d180f18"),
        "ADV_NAME_SHORT": "short",
        "ADV_NAME_CMPL": "complete",
        "ADV_TX_PWR": -8,
        "ADV_SERVICE_DATA": bytes.fromhex("0d18") + b"\x01\x02",
        "ADV_MANUFACTURER_DATA": bytes.fromhex("4c000215") + bytes(21),
        # absent from DATA
        "ADV_16SRV_PART": None,
        "ADV_32SRV_PART": None,
        "ADV_32SRV_CMPL": None,
        "ADV_128SRV_PART": None,
        "ADV_128SRV_CMPL": None,
    }
    problems = []
    for name, value in want.items():
        got = board.exec(f"print(repr(bt.resolve_adv_data(D, Bluetooth.{name})))", 10).strip()
        if got != repr(value):
            problems.append(f"{name}: expected {value!r}, got {got}")
    # types Pycom's firmware never decodes (§10): None or the raw bytes, no exception
    for name in ("ADV_DEV_CLASS", "ADV_APPEARANCE", "ADV_ADV_INT", "ADV_32SERVICE_DATA", "ADV_128SERVICE_DATA"):
        got = board.exec(f"print(repr(bt.resolve_adv_data(D, Bluetooth.{name})))", 10).strip()
        if got != "None":
            problems.append(f"{name}: absent, expected None, got {got}")
    # the data of a real report (62 bytes, zero padded) resolves the same
    got = board.exec("print(repr(bt.resolve_adv_data(D + bytes(62 - len(D)), Bluetooth.ADV_NAME_CMPL)))", 10).strip()
    if got != "'complete'":
        problems.append(f"padded: {got}")
    assert not problems, "\n".join(problems)
    assert_no_traceback(board)


def test_events_accumulate_and_clear_and_advertising_restarts(board, peer):
    board.exec(
        "from network import Bluetooth\nbt = Bluetooth()\nbt.set_advertisement(name='evts')\nbt.advertise(True)\nprint(bt.events())",
        10,
    )
    conn = peer.connect(board_address(board))
    peer.disconnect(conn)
    wait_until(lambda: not peer.device.connections, 5, "the link to end")
    time.sleep(1.0)  # the board's controller reports the disconnection too
    # the bits of both events, without a callback; cleared by the read
    assert board.exec("print('EV', bt.events())", 5).strip() == "EV 6"
    assert board.exec("print('EV', bt.events())", 5).strip() == "EV 0"
    # advertising came back on its own after the client left
    report = peer.find(board_address(board), timeout=5)
    assert b"\x05\x09evts" in report.data
    assert_no_traceback(board)


def test_connect_takes_a_hex_string(air, board):
    peer = air.add_peer(name="hexaddr")
    peer.power_on()

    async def _go():
        peer.device.add_services(ffe0_services(b"by string"))
        await peer.device.start_advertising(
            advertising_data=adv_data_with_name(b"hexaddr"),
            own_address_type=OwnAddressType.PUBLIC,
            auto_restart=False,
        )

    air.run(_go(), 5)
    text = str(peer.public_address).split("/")[0].replace(":", "")
    assert len(text) == 12
    pycom_central(board)
    out = board.exec(
        f"c = bt.connect({text.lower()!r}, timeout=5000)\nprint('CONNECTED', c.isconnected())\nprint('READ', find_char(c, 0xFFE1).read())\nc.disconnect()",
        30,
    )
    assert out.splitlines() == ["CONNECTED True", "READ b'by string'"], out
    assert peer.connections and str(peer.connections[0].peer_address).split("/")[0] == board_address(board)
    assert_no_traceback(board)
