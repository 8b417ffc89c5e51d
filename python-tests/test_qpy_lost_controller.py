"""A controller that goes away while a central is connected (issue 6,
defect 7): its TCP connection closes under the board.

Every link ends for the script (event 17, status 0x08 Connection Timeout,
Vol 1 Part F 1.3), the stack reports that it stopped (event 1 with status
0x08), getStatus() is 0, sends and gattStop() are refused (-1, nothing
more is reported), and gattStart() works again once a controller answers
on MPBLE_HCI (docs/DECISIONS.md). The air closes the connection
(`Air.drop_host`) and keeps listening on the same port, as a controller
bridge that restarts would.

The board runs python-tests/scripts/qpy_lost_server.py (ours; service
0xFFF0, value handle 3), and the vendor demo ble_server.py unchanged.
"""

from __future__ import annotations

import re

from qpy_common import (
    assert_no_traceback,
    board_address,
    connect_to_demo,
    line,
    scripts_dir,
    start_demo,
)

SCRIPT = scripts_dir() / "qpy_lost_server.py"
CONNECTION_TIMEOUT = 0x08
# How soon the script must hear of the loss.
REPORT_S = 3.0


def event_line(text: str) -> re.Pattern:
    """An event line: printed at the start of a line, or after the REPL's
    prompt when it arrives while the REPL waits for input."""
    return re.compile(r"(?:^|>>> |=== )" + text + r"\r?$", re.M)


def _start(board) -> int:
    pos = board.run_file(SCRIPT)
    assert board.expect(r"INIT (-?\d+)", 10, since=pos).group(1) == "0", "serverInit failed"
    assert board.expect(r"START (-?\d+)", 10, since=pos).group(1) == "0", "gattStart failed"
    m = board.expect(r"(?m)^(READY|NOT READY)\r?$", 10, since=pos)
    assert m.group(1) == "READY", "no BLE start event within 5 s"
    board.expect(line("SETUP [0, 0, 0, 0, 0, 0, 0, 0, 0]"), 1, since=pos)
    board.wait_prompt(10)
    return pos


def test_lost_controller_ends_links_stops_and_recovers(air, board, peer):
    pos = _start(board)
    conn = peer.connect(board_address(board))
    board.expect(event_line(r"EV 16 0 0"), 5, since=pos)

    mark = board.mark()
    air.drop_host(board.slot)
    ev17 = board.expect(event_line(r"EV 17 (-?\d+) 0"), REPORT_S, since=mark)
    ev1 = board.expect(event_line(r"EV 1 (-?\d+)"), REPORT_S, since=mark)
    assert ev17.start() < ev1.start(), "event 1 came before the link's event 17"
    assert int(ev17.group(1)) == CONNECTION_TIMEOUT, ev17.group(0)
    assert int(ev1.group(1)) == CONNECTION_TIMEOUT, ev1.group(0)

    out = board.exec(
        "print('S', ble.getStatus())\n"
        "print('N', ble.sendNotification(0, 3, b'gone'))\n"
        "print('I', ble.sendIndication(0, 3, b'gone'))\n"
        "print('P', ble.gattStop())\n"
        "utime.sleep_ms(500)\n",
        timeout=10,
    )
    assert re.search(r"(?m)^S 0$", out), f"getStatus() after the loss: {out!r}"
    assert re.search(r"(?m)^N -1$", out), f"sendNotification after the loss: {out!r}"
    assert re.search(r"(?m)^I -1$", out), f"sendIndication after the loss: {out!r}"
    assert re.search(r"(?m)^P -1$", out), f"gattStop after the loss (already stopped): {out!r}"
    after = board.transcript[ev1.end():]
    assert "EV 25" not in after, "event 25 for data that went nowhere"
    assert len(re.findall(r"EV (?:1|17) ", after)) == 0, f"stop/disconnect reported twice: {after!r}"

    # The controller holds no host any more; end the peer's link the way a
    # reset controller would (the board is told nothing: it has no link).
    peer.disconnect(conn)

    # A controller answers again on the same MPBLE_HCI: gattStart works.
    mark = board.mark()
    out = board.exec("print('G', ble.gattStart())\nutime.sleep_ms(1500)\nprint('S', ble.getStatus())\n", timeout=10)
    assert re.search(r"(?m)^G 0$", out), f"gattStart after the loss: {out!r}"
    board.expect(event_line(r"EV 0 0"), 5, since=mark)
    assert re.search(r"(?m)^S 1$", out), out
    assert air.call(lambda: board.slot.client_connected), "the board did not reconnect"
    assert_no_traceback(board)


def test_vendor_demo_hears_of_a_lost_controller(air, board, peer):
    """ble_server.py unchanged: it prints each event's id and status."""
    pos = start_demo(board)
    connect_to_demo(peer, board, pos)
    mark = board.mark()
    air.drop_host(board.slot)
    ev17 = board.expect(r"\[ble_callback\]: event_id=17, status=(-?\d+)", REPORT_S, since=mark)
    ev1 = board.expect(r"\[ble_callback\]: event_id=1, status=(-?\d+)", REPORT_S, since=mark)
    assert int(ev17.group(1)) == CONNECTION_TIMEOUT
    assert int(ev1.group(1)) == CONNECTION_TIMEOUT
    # The demo stops BLE on event 17: already stopped, refused, and the
    # demo says the stop failed when event 1 arrives.
    board.expect(r"ble_gatt_close failed\.", 1, since=ev17.end())
    board.expect(r"\[callback\] ble stop failed\.", 1, since=ev1.end())
    assert_no_traceback(board)
