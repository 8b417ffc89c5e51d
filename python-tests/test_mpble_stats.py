"""The stack's drop counters, as Python sees them (issue 6, defect 2).

QuecPython `ble.mpbleStats()` and Pycom `Bluetooth().mpble_stats()` (mpble's
own calls, named so that no vendor call can clash) return the same dict:
every counter of the stack (README "Diagnostics"). A fresh board counts
nothing; a frame a Bumble central sends on an L2CAP channel the host does
not serve (CID 0x0044: an LE dynamic channel never opened, Vol 3 Part A
2.1) moves `unknown_cid` and nothing else; a counter of something accepted
and lost stays 0 through it all.

The board runs python-tests/scripts/qpy_lost_server.py (ours: service
0xFFF0, value 0xFFF1 'init' at handle 3, returns to the REPL).
"""

from __future__ import annotations

import ast
import re
import time

from qpy_common import assert_no_traceback, board_address, scripts_dir

SCRIPT = scripts_dir() / "qpy_lost_server.py"
KEYS = {
    "bad_events",
    "bad_acl",
    "unknown_handle",
    "l2cap_errors",
    "unknown_cid",
    "tx_dropped",
    "host_events_dropped",
    "att_events_dropped",
    "gatt_client_unexpected",
    "h4_oversize_dropped",
    "h4_bad_indicator",
    "h4_sco_iso_dropped",
    "events_dropped",
    "qpy_events_dropped",
    "pycom_events_dropped",
    "adv_fifo_dropped",
    # Callback latency (issue 7): how many callbacks were timed, and p50,
    # p99, max in µs.
    "cb_latency_count",
    "cb_latency_p50_us",
    "cb_latency_p99_us",
    "cb_latency_max_us",
}
LATENCY = {k for k in KEYS if k.startswith("cb_latency")}
UNSERVED_CID = 0x0044


def stats(board, expr: str) -> dict:
    out = board.exec(f"_s = {expr}\nprint('STATS', type(_s).__name__, sorted(_s.items()))", 10)
    # Callbacks may print their events around it.
    m = re.search(r"STATS (\w+) (\[.*\])", out)
    assert m and m.group(1) == "dict", out
    return dict(ast.literal_eval(m.group(2)))


def test_a_fresh_board_counts_nothing_in_both_apis(board):
    board.exec("import ble\nfrom network import Bluetooth", 10)
    qpy = stats(board, "ble.mpbleStats()")
    assert set(qpy) == KEYS
    assert all(v == 0 for v in qpy.values()), qpy
    # Bluetooth() brings the controller up; the stack still counts nothing.
    pycom = stats(board, "Bluetooth().mpble_stats()")
    assert pycom == dict.fromkeys(KEYS, 0)
    assert stats(board, "ble.mpbleStats()") == pycom
    assert_no_traceback(board)


def test_a_frame_on_an_unserved_channel_is_counted(air, board, peer):
    pos = board.run_file(SCRIPT)
    assert board.expect(r"START (-?\d+)", 10, since=pos).group(1) == "0"
    board.expect(r"(?m)^READY\r?$", 10, since=pos)
    board.wait_prompt(10)
    before = stats(board, "ble.mpbleStats()")
    # (The start callback was timed: only the drop counters are all 0.)
    assert {k: v for k, v in before.items() if k not in LATENCY} == dict.fromkeys(KEYS - LATENCY, 0), before

    conn = peer.connect(board_address(board))
    # Printed by the callback, also after the REPL's prompt (paste mode's
    # or the raw REPL's).
    board.expect(re.compile(r"(?:^|>>> |=== |\x04>)EV 16 0 0\r?$", re.M), 5, since=pos)
    assert peer.read(conn, 3) == b"init"
    peer.l2cap_send(conn, UNSERVED_CID, b"\x01\x02\x03")
    # The host answers nothing on that channel; ATT still works after it.
    assert peer.read(conn, 3) == b"init"

    deadline = time.monotonic() + 5
    while True:
        after = stats(board, "ble.mpbleStats()")
        if after["unknown_cid"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # The connect callback was timed; no drop counter moved but unknown_cid.
    assert after["cb_latency_count"] >= 1, after
    drops = {k: v for k, v in after.items() if k not in LATENCY}
    assert drops == {k: v for k, v in dict(before, unknown_cid=1).items() if k not in LATENCY}, after
    board.exec("from network import Bluetooth", 10)
    assert stats(board, "Bluetooth().mpble_stats()") == after
    assert_no_traceback(board)
