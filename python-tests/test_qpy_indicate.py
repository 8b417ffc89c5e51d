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


def idle_line(text: str) -> re.Pattern:
    """`text` at the end of a line: events that arrive while the REPL waits
    for input are printed after its prompt ('>>> ' or '=== ')."""
    return re.compile(re.escape(text) + r"\r?$", re.M)


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
    board.expect(idle_line("EV 21 0 2 b'\\x02\\x00' 0x0004 0x2902"), 5, since=pos)
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



def test_send_end_waits_for_the_confirmation(board, peer):
    """Event 25 for an indication means the peer confirmed it: while the
    confirmation is held back there is no event 25 and the bearer stays busy
    (sendIndication -> -1); the confirmation brings both."""
    pos = _start(board)
    conn = peer.connect(board_address(board))
    board.expect(r"EV 16 0 0\r?$", 5, since=pos)
    ch = peer.find_characteristic(conn, "FFF1")
    peer.subscribe(conn, ch, prefer_notify=False)
    board.expect(idle_line("EV 21 0 2 b'\\x02\\x00' 0x0004 0x2902"), 5, since=pos)

    peer.auto_confirm = False  # log indications, do not confirm them
    mark = len(board.transcript)
    out = board.exec(
        "print('R1', ble.sendIndication(0, 3, b'one'))\n"
        "utime.sleep_ms(1000)\n"
        "print('R2', ble.sendIndication(0, 3, b'two'))\n"
        "utime.sleep_ms(200)\n",
        timeout=10,
    )
    assert re.search(r"(?m)^R1 0$", out) and re.search(r"(?m)^R2 -1$", out), out
    assert wait_att_pdus(peer, conn, 0x1D, 1, 3) == [b"\x1d\x03\x00one"]
    assert _confirmations(board) == 0
    assert "EV 25" not in board.transcript[mark:], "event 25 before any confirmation"

    peer.att_send(conn, b"\x1e")  # Handle Value Confirmation (Vol 3 Part F 3.4.7.3)
    out = board.exec("utime.sleep_ms(500)\nprint('R3', ble.sendIndication(0, 3, b'three'))\nutime.sleep_ms(300)\n", timeout=10)
    assert re.search(r"(?m)^R3 0$", out), out
    text = board.transcript[mark:].replace("\r\n", "\n")
    ev = [m.start() for m in re.finditer(r"EV 25 0$", text, re.M)]
    r3 = text.index("R3 0")
    assert len(ev) == 1 and ev[0] < r3, f"expected one 'EV 25 0' before 'R3 0':\n{text}"
    assert wait_att_pdus(peer, conn, 0x1D, 2, 3) == [b"\x1d\x03\x00one", b"\x1d\x03\x00three"]
    assert _confirmations(board) == 1
    assert_no_traceback(board)
