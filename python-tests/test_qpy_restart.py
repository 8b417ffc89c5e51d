"""The vendor QuecPython server demo (shared/demos/quecpython/ble_server.py,
unchanged) stopped and started again, against a Bumble central.

The demo registers its service in its event-0 handler, so every gattStart
registers it again; it stops BLE (gattStop) when its link drops. Since a stop
forgets the attribute table and the registrations (docs/DECISIONS.md), the
second start must see every registration call return 0 (the demo calls
gattStop on any -1) and a central discovering after the restart must find the
same table as before: one service 0x180F, one characteristic 0x2A19 and
exactly one CCCD (Vol 3 Part G 3.3.3.3), at the same handles.

The demo file is executed in its own globals with a `__name__` other than
`'__main__'`, so its main loop does not run; the test calls the demo's own
functions (ble_gatt_server_init(ble_callback), ble_gatt_open) as its main
does, and ble.gattStart() for the restart.
"""

from __future__ import annotations

import pytest
from bumble.core import UUID

from qpy_common import (
    assert_no_traceback,
    board_address,
    demo_server_path,
    demo_with_sys_services,
    line,
    lines_in_order,
)

CCCD = UUID.from_16_bits(0x2902)


def load_demo(board, path) -> None:
    # The file's bytes go over the REPL (a bare-metal board has no file
    # system to open the host's path on).
    board.exec(f"demo = {{'__name__': 'vendor_demo'}}\nexec({path.read_bytes()!r}, demo)\n", timeout=20)


def wait_advertising(board, since: int) -> None:
    m = board.expect(r"ble_adv_start success\.|(\w+ failed\.)|Traceback", 10, since=since)
    assert m.group(0) == "ble_adv_start success.", f"the demo did not start advertising: {m.group(0)!r}"


def discover_and_hang_up(peer, board) -> list:
    """Connect, discover everything with Bumble's GATT client, disconnect and
    wait for the demo's stop (event 1). Returns (service uuid, start, end,
    [(char uuid, value handle, [(descriptor handle, type)])])."""
    mark = board.mark()
    conn = peer.connect(board_address(board), timeout=10)
    board.expect(r"\[callback\] ble connect successful\.", 10, since=mark)
    table = peer.discover(conn)
    layout = [
        (s.uuid, s.handle, s.end_group_handle, [(c.uuid, c.handle, [(d.handle, d.type) for d in ds]) for c, ds in chars])
        for s, chars in table
    ]
    mark = board.mark()
    peer.disconnect(conn)
    lines_in_order(
        board,
        [line("[callback] ble disconnect successful."), line("[callback] ble stop successful.")],
        mark,
    )
    return layout


@pytest.mark.parametrize("sys_service", [0, 1], ids=["mode0", "mode1"])
def test_demo_registers_again_after_stop_and_start(tmp_path, board, peer, sys_service):
    path = demo_server_path() if sys_service == 0 else demo_with_sys_services(tmp_path)
    load_demo(board, path)
    pos = board.mark()
    board.exec("demo['ble_gatt_server_init'](demo['ble_callback'])\ndemo['ble_gatt_open']()\n")
    wait_advertising(board, pos)
    first = discover_and_hang_up(peer, board)

    battery = [s for s in first if s[0] == UUID.from_16_bits(0x180F)]
    base = 1 if sys_service == 0 else 16
    assert battery == [
        (UUID.from_16_bits(0x180F), base, base + 3, [(UUID.from_16_bits(0x2A19), base + 2, [(base + 3, CCCD)])])
    ], first
    assert len(first) == (1 if sys_service == 0 else 3), first

    for run in (2, 3):
        pos = board.mark()
        # The demo's stop handler only prints; the script starts BLE again and
        # the demo's event-0 handler registers the same service again.
        assert board.exec("import ble\nprint('restart', ble.gattStart())\n").strip().endswith("restart 0")
        lines_in_order(
            board,
            [
                line("ble_gatt_add_service success."),
                line("ble_gatt_add_characteristic success."),
                line("ble_gatt_add_characteristic_value success."),
                line("ble_gatt_add_characteristic_desc success."),
                line("ble_gatt_add_service_complete success."),
            ],
            pos,
            timeout=10,
        )
        wait_advertising(board, pos)
        again = discover_and_hang_up(peer, board)
        assert again == first, f"run {run}"
        for _uuid, _start, _end, chars in again:
            for _c, _h, descs in chars:
                assert [t for _h2, t in descs].count(CCCD) <= 1, again
    assert_no_traceback(board)
