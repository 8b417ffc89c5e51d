"""The vendor QuecPython central demo (shared/demos/quecpython/ble_client.py),
run UNCHANGED (read from $DEMOS or <repo>/../shared/demos, never copied).

1. Against a Bumble peripheral configured as the demo's target: "Quectel_ble"
   in its advertising data (Complete Local Name), primary service 0x180F with
   characteristic 0x2A19 (read|notify, value 0x64) and its CCCD. Bumble puts
   its own GAP (1..5) and GATT (6..13) services first, so 0x180F is 14..17:
   15 declaration (props 0x12), 16 value, 17 CCCD.
2. Against the vendor peripheral demo ble_server.py on a second board (table
   1..4: 1 service 0x180F, 2 declaration props 0x32, 3 value 0x2A19 = 244 zero
   bytes, 4 CCCD; it notifies b'99999' on handle 3 as soon as it is connected).

The demo's flow (reference §3.5): event 0 -> setScanParam + scanStart;
event 19 named Quectel_ble -> scanStop + connect; 16; 26 -> discoverAllService;
27 for 0x180F -> discoverAllChara; 28 ...; (37, 0, 0x0A) -> discoverAllCharaDesc
(value handle + 1 .. service end); 29 -> readCharaByUUID(decl .. value, 0x2A19);
33 printed. On 17 it calls gattStop and its worker ends; the main loop sees
getStatus() == 0 within a second, prints 'BLE connection has been
disconnected.' and calls clientRelease.

Every expected line is the demo's own format string applied to the exact
bytes (Python's bytes repr is MicroPython's).
"""

from __future__ import annotations

import re

from bumble.gatt import Characteristic, Service

from qpy_common import (
    DEMO_ADV_DATA,
    adv_data_with_name,
    assert_no_traceback,
    board_address,
    demo_client_path,
    line,
    line_re,
    lines_in_order,
    lsb_text,
    peer_serve,
    start_demo,
)

TARGET = b"Quectel_ble"
LEVEL = b"\x64"


def u16(x: int) -> bytes:
    return x.to_bytes(2, "little")


def start_client_demo(board) -> int:
    pos = board.run_file(demo_client_path())
    lines_in_order(
        board,
        [
            line("ble client initialize successful."),
            line("=================================================="),
            line("PROJECT_NAME     : QuecPython_BLE_Client_Example"),
            line("PROJECT_VERSION  : 1.0.0"),
            line_re(r"FIRMWARE_VERSION : .+?"),
            line("=================================================="),
            line("create client event handler task."),
            line("ble open successful."),
            line("event_id : BLE_START_STATUS_IND, status = 0"),
            line("BLE start successful."),
            line("BLE Status : started."),
            line("ble client set scan-parameters successful."),
            line("ble client scan successful."),
        ],
        pos,
        timeout=10,
    )
    return pos


def discovery_lines(addr_type: int, addr: bytes, raw: bytes, services: list, decl: int, props: int, value: int, end: int) -> list:
    """What the demo prints from the scan report to the descriptor
    discovery, for a target with one characteristic 0x2A19 (declaration
    `decl`, value handle `value`) and its CCCD at value + 1 == `end`."""
    a = lsb_text(addr)
    ch = bytes([7]) + u16(decl) + bytes([props]) + u16(value) + u16(0x2A19)
    desc = b"\x01" + u16(value + 1) + u16(0x2902)
    out = [
        line(f"name: Quectel_ble, addr: {a}, rssi: -50, addr_type: {addr_type}"),
        line(f"raw_data: {raw!r}"),
        line("ble client scan stopped successfully."),
        line("start to connect....."),
        line(f"addr_type : {addr_type}, addr : {a}"),
        line("ble client connect successful."),
        line("event_id : BLE_CONNECT_IND, status = 0"),
        line(f"connect_id : 0x0, connect_addr : {a}"),
        line("event_id : BLE_GATT_START_DISCOVER_SERVICE_IND, status = 0"),
        line("execute the function discover_all_service."),
        line("ble client discover all service successful."),
    ]
    for s, e, uuid in services:
        out += [
            line("event_id : BLE_GATT_DISCOVER_SERVICE_IND, status = 0"),
            line(f"start_handle = {s:#06x}, end_handle = {e:#06x}, short_uuid = {uuid:#06x}"),
        ]
    out += [
        line("execute the function discover_all_characteristic."),
        line("ble client discover all characteristic successful."),
        line("event_id : BLE_GATT_DISCOVER_CHARACTERISTIC_DATA_IND, status = 0"),
        line(f"pair_len=7, len={len(ch)}, data:{ch!r}"),
        line(f"handle={decl:#06x}, properties={props:#x}, value_handle={value:#06x}"),
        line("short_uuid:0x2a19"),
        line("characteristic_list len = 1"),
        line("event_id : BLE_GATT_ATT_ERROR_IND, status = 0"),
        line("errcode = 0x000a"),
        line("execute the function discover_all_characteristic_descriptor."),
        line(f"[1]start_handle = {value:#06x}, end_handle = {end:#06x}"),
        line("ble client discover all characteristic descriptor successful."),
        line("event_id : BLE_GATT_DISCOVER_CHARA_DESC_IND, status = 0"),
        line(f"fmt=1, len={len(desc)}, data:{desc!r}"),
        line(f"handle={value + 1:#06x}, uuid=0x2902"),
        line("descriptor_list len = 1"),
        line("execute the function read_characteristic_by_uuid."),
        line("ble client read characteristic by uuid successful."),
    ]
    return out


def test_client_demo_against_bumble_peripheral(board, peer):
    def _services():
        level = Characteristic("2A19", Characteristic.Properties.READ | Characteristic.Properties.NOTIFY, Characteristic.READABLE, LEVEL)
        return [Service("180F", [level])]

    adv = adv_data_with_name(TARGET)
    peer_serve(peer, peer.air.call(_services), adv, interval_ms=100)

    pos = start_client_demo(board)
    addr = bytes(peer.random_address)  # LSB first; the peer advertises from it (type 1)
    services = [(1, 5, 0x1800), (6, 13, 0x1801), (14, 17, 0x180F)]
    ms = lines_in_order(board, discovery_lines(1, addr, adv, services, 15, 0x12, 16, 17), pos, timeout=10)
    body = b"\x03" + u16(16) + LEVEL
    ms += lines_in_order(
        board,
        [
            line("event_id : BLE_GATT_CHARA_READ_BY_UUID_IND, status = 0"),
            line(f"data_len = {len(body)}, data : {body!r}"),
            line("handle = 0x0010"),
        ],
        ms[-1].end(),
    )
    # the link as the peer sees it: the board connected from its public address
    assert len(peer.connections) == 1
    conn = peer.connections[0]
    assert str(conn.peer_address).split("/")[0] == board_address(board)

    # The peer hangs up: the demo prints the disconnect, stops BLE and its
    # main loop releases the client (getStatus() == 0) and returns.
    after = board.mark()
    peer.disconnect(conn)
    lines_in_order(
        board,
        [
            line("event_id : BLE_DISCONNECT_IND, status = 0"),
            line(f"connect_id : 0x0, connect_addr : {lsb_text(addr)}"),
            line("ble close successful."),
            line("BLE connection has been disconnected."),
            line("ble client release successful."),
        ],
        after,
        timeout=5,
    )
    board.wait_prompt(5)
    text = board.transcript
    # nothing the demo treats as a failure, and no unknown event
    for bad in ("failed", "unknown event id", "Execution result: Failed", "ble attribute error"):
        assert bad not in text[pos:], f"{bad!r} in the demo's output"
    assert text[pos:].count("name: Quectel_ble,") == 1, "one scan report line for the target (setScanFilter default 1)"
    assert_no_traceback(board)
    assert board.eval("ble.getStatus()") == "0"


def test_client_demo_against_server_demo(two_boards):
    server, client = two_boards
    spos = start_demo(server)
    cpos = start_client_demo(client)

    saddr = bytes(server.slot.address)  # LSB first, public (type 0)
    services = [(1, 4, 0x180F)]
    ms = lines_in_order(client, discovery_lines(0, saddr, DEMO_ADV_DATA, services, 2, 0x32, 3, 4), cpos, timeout=10)
    # The server's connect line names the client's public address.
    lines_in_order(
        server,
        [line("[callback] ble connect successful."), line(f"[callback] connect_id = 0, addr = {lsb_text(client.slot.address)}")],
        spos,
    )

    # Read by UUID of the 244-byte value: a Read By Type Response carries at
    # most ATT_MTU - 4 bytes of it (Vol 3 Part F 3.4.4.2): 19 at the default
    # MTU 23, unless an MTU exchange happened (the demo prints event 20,
    # which comes before the read's event: looked for once that is in).
    read = client.expect(line("event_id : BLE_GATT_CHARA_READ_BY_UUID_IND, status = 0"), 5, since=ms[-1].end())
    m = line_re(r"handle = 0x[0-9a-f]{4}, ble_mtu = (\d+)").search(client.transcript, cpos, read.start())
    mtu = int(m.group(1)) if m else 23
    vlen = min(244, mtu - 4)
    body = bytes([2 + vlen]) + u16(3) + bytes(vlen)
    lines_in_order(client, [line(f"data_len = {len(body)}, data : {body!r}"), line("handle = 0x0003")], read.end())

    # The server notified b'99999' on handle 3 as soon as it was connected
    # (before the client could have enabled the CCCD); a client prints every
    # notification it gets: event 23 = handle LE + value.
    ntf = b"\x03\x0099999"
    client.expect(line("event_id : BLE_GATT_RECV_NOTIFICATION_IND, status = 0"), 3, since=cpos)
    lines_in_order(client, [line(f"len={len(ntf)}, data:{ntf!r}"), line("handle = 0x0003")], cpos)
    server.expect(line("[callback] ble_gatt_send_notification successful."), 3, since=spos)

    text = client.transcript
    for bad in ("failed", "unknown event id", "Execution result: Failed", "ble attribute error"):
        assert bad not in text[cpos:], f"{bad!r} in the client demo's output"
    assert text[cpos:].count("name: Quectel_ble,") == 1
    assert_no_traceback(client)
    assert_no_traceback(server)
