"""QuecPython `ble.sendIndication` against a Bumble central.

The board runs python-tests/scripts/qpy_indicate_server.py (ours): service
0xFFF0, characteristic 0xFFF1 (read|indicate) with value handle 3 and CCCD 4.
One indication may be outstanding per bearer (Vol 3 Part F 3.4.7.2, 3.3.2):
a second sendIndication before the confirmation returns -1 and the first is
still delivered; event 25 (BLE_GATT_SEND_END) follows the confirmation
(docs/DECISIONS.md).
"""

from __future__ import annotations

import re
import time

from qpy_common import (
    acl_att_from_host,
    assert_no_traceback,
    board_address,
    line,
    scripts_dir,
    wait_att_pdus,
)

SCRIPT = scripts_dir() / "qpy_indicate_server.py"


def _start(board):
    pos = board.run_file(SCRIPT)
    m = board.expect(r"INIT (-?\d+)", 10, since=pos)
    assert m.group(1) == "0", "serverInit failed"
    m = board.expect(r"START (-?\d+)", 10, since=pos)
    assert m.group(1) == "0", "gattStart failed"
    m = board.expect(r"(?m)^(READY|NOT READY)\r?$", 10, since=pos)
    assert m.group(1) == "READY", "no BLE start event within 5 s"
    board.expect(line("SETUP [0, 0, 0, 0, 0, 0, 0, 0, 0]"), 1, since=pos)
    board.wait_prompt(10)
    return pos


def _confirmations(board) -> int:
    return sum(1 for p in acl_att_from_host(board.slot) if p == b"\x1e")


def test_indication_confirmed_and_second_refused(board, peer):
    pos = _start(board)
    conn = peer.connect(board_address(board))
    board.expect(r"EV 16 0 0\r?$", 5, since=pos)

    ch = peer.find_characteristic(conn, "FFF1")
    assert ch.handle == 3 and int(ch.properties) == 0x22, (ch.handle, int(ch.properties))
    values = peer.subscribe(conn, ch, prefer_notify=False)
    # Bumble wrote 02 00 (indications) to the CCCD at handle 4.
    board.expect(line("EV 21 0 2 b'\\x02\\x00' 0x0004 0x2902"), 5, since=pos)
    assert peer.att_raw(conn, bytes.fromhex("0A0400"), 3) == bytes.fromhex("0B0200")

    out = board.exec(
        "r1 = ble.sendIndication(0, 3, b'one')\n"
        "r2 = ble.sendIndication(0, 3, b'two')\n"
        "print('R', r1, r2)\n"
        "utime.sleep_ms(800)\n",
        timeout=10,
    )
    assert re.search(r"(?m)^R 0 -1$", out), f"expected 'R 0 -1' (second refused while one is outstanding): {out!r}"
    ind = wait_att_pdus(peer, conn, 0x1D, 1, 3)
    assert ind == [b"\x1d\x03\x00one"], [p.hex() for p in ind]
    assert values == [b"one"], values
    # Bumble confirmed it (Handle Value Confirmation 0x1E reached the board)
    # and the board reported the send end exactly once.
    assert _confirmations(board) == 1
    assert re.findall(r"(?m)^EV 25 (-?\d+)$", out) == ["0"], out

    # The bearer is free again: a third indication goes out and is confirmed.
    out = board.exec("print('R3', ble.sendIndication(0, 3, b'three'))\nutime.sleep_ms(800)\n", timeout=10)
    assert re.search(r"(?m)^R3 0$", out), out
    ind = wait_att_pdus(peer, conn, 0x1D, 2, 3)
    assert ind == [b"\x1d\x03\x00one", b"\x1d\x03\x00three"], [p.hex() for p in ind]
    assert values == [b"one", b"three"], values
    assert _confirmations(board) == 2
    assert re.findall(r"(?m)^EV 25 (-?\d+)$", out) == ["0"], out
    time.sleep(0.2)
    assert len(wait_att_pdus(peer, conn, 0x1D, 3, 0.2)) == 2, "an indication arrived that the board refused"
    assert_no_traceback(board)

