"""A peer that writes faster than the app's callback runs loses nothing.

A Bumble central streams Write Commands (Vol 3 Part F 3.4.5.3, no response,
so nothing paces it) at a board whose callback takes 20 ms per write. The
board's event queue holds 32 events; the host takes controller input only
while the queue has room, so the rest waits in the port and in the
transport's flow control. Every write must reach the callback once, in
order (ARCHITECTURE rule 5: nothing already accepted is lost).
"""

from __future__ import annotations

import re
import time

from qpy_common import assert_no_traceback, board_address, scripts_dir

COUNT = 120


def test_write_command_flood_reaches_a_slow_callback_whole_and_in_order(board, peer):
    out = board.exec((scripts_dir() / "qpy_write_sink_server.py").read_text(), timeout=15)
    assert "READY" in out and "SETUP [0, 0, 0, 0, 0, 0, 0, 0]" in out, out
    conn = peer.connect(board_address(board))

    async def flood():
        for i in range(COUNT):
            await conn.gatt_client.write_value(3, i.to_bytes(2, "little"), with_response=False)

    peer.air.run(flood(), 20)
    # 120 writes x 20 ms in the callback: about 2.4 s of Python work.
    deadline = time.monotonic() + 20
    while True:
        out = board.exec("print('N', len(WRITES))", timeout=5)
        n = int(re.search(r"N (\d+)", out).group(1))
        if n >= COUNT or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out = board.exec("print('OK', WRITES == [i.to_bytes(2, 'little') for i in range(%d)])" % COUNT, timeout=5)
    assert n == COUNT, f"the callback saw {n} of {COUNT} writes"
    assert "OK True" in out, "writes lost, duplicated or reordered"
    assert_no_traceback(board)
