"""QuecPython's official pairing demos, UNCHANGED (read from
$DEMOS/quecpython/smp, never copied): ble_smp_server_demo.py on one board,
ble_smp_client_demo.py on another. Then both firmwares restart (new
processes, the same key stores) and the link is encrypted again from the
stored bond, without pairing.

First run:
- the client connects to "QUEC HID", finds no bond (smpGetPairedDevInfo()
  is empty) and calls smpStartPair; both sides are KeyboardDisplay with
  Secure Connections and the client asks for MITM (smpSetConfig(4, 13,
  ...), the server smpSetConfig(4, 9, ...) in its connect handler), so the
  method is Numeric Comparison (Vol 3 Part H 2.3.5.1, table 2.8);
- both demos get event 64 with pair_mode 6 and the same six-digit number as
  pin, and answer smpUserConfirm(cid, 1, 0);
- event 63 status 0 on both (the link is encrypted), after which the client
  discovers the server and reads its battery characteristic.

Restart (both boards killed once the link has dropped, new processes on the
same controllers with the same MPBLE_BONDS files):
- the client sees the server's address in smpGetPairedDevInfo() (`addr in
  list`, addr from event 16) and arms its 1.2 s osTimer instead of pairing;
- the core encrypts the link with the bond's LTK at once (LE Enable
  Encryption from the client, an LE Long Term Key Request answered with the
  bond on the server); event 63 status 0 comes on both sides before the
  timer, which the demo stops; no SMP Pairing Request goes over the air
  (checked in both controllers' HCI logs), no event 64;
- the client discovers and reads again.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from qpy_common import assert_no_traceback, demos_dir, line, line_re, lines_in_order

CID_SMP = 0x0006
PAIRING_REQUEST = 0x01
HCI_LE_ENABLE_ENCRYPTION = 0x2019
HCI_LE_LTK_REQUEST_REPLY = 0x201A
EVT_ENCRYPTION_CHANGE = 0x08
EVT_LE_META = 0x3E
LE_LTK_REQUEST = 0x05


def smp_demo(name: str) -> Path:
    path = demos_dir() / "quecpython" / "smp" / name
    assert path.exists(), f"{path} not found (set DEMOS to the shared demos folder)"
    return path


def smp_pdus(slot, since: float, direction: str) -> list[bytes]:
    """SMP PDUs (L2CAP CID 6 payloads) in the controller's HCI log after
    `since`: "H>C" the board sent, "C>H" the board received."""
    out = []
    for t, d, pkt in list(slot.hci_log):
        if t < since or d != direction or len(pkt) < 9 or pkt[0] != 0x02:
            continue
        if int.from_bytes(pkt[7:9], "little") == CID_SMP:
            out.append(bytes(pkt[9 : 9 + int.from_bytes(pkt[5:7], "little")]))
    return out


def commands(slot, since: float, opcode: int) -> list[bytes]:
    return [
        bytes(p[4:])
        for t, d, p in list(slot.hci_log)
        if t >= since and d == "H>C" and p[0] == 0x01 and int.from_bytes(p[1:3], "little") == opcode
    ]


def events(slot, since: float, code: int, sub: int | None = None) -> list[bytes]:
    out = []
    for t, d, p in list(slot.hci_log):
        if t < since or d != "C>H" or len(p) < 3 or p[0] != 0x04 or p[1] != code:
            continue
        if sub is None or (len(p) > 3 and p[3] == sub):
            out.append(bytes(p[3:]))
    return out


def start_pair(air, make_board, slots, envs):
    """Boards on the given controllers: the server demo, then the client
    demo. Returns (server, client, server_pos, client_pos)."""
    server = make_board(slots[0], env=envs[0], name="server")
    client = make_board(slots[1], env=envs[1], name="client")
    spos = server.run_file(smp_demo("ble_smp_server_demo.py"))
    m = server.expect(r"ble_adv_start success\.|(\w+ failed\.)|Traceback", 10, since=spos)
    assert m.group(0) == "ble_adv_start success.", m.group(0)
    cpos = client.run_file(smp_demo("ble_smp_client_demo.py"))
    return server, client, spos, cpos


def discovery_and_read(client, since: int) -> int:
    ms = lines_in_order(
        client,
        [
            line("execute the function discover_all_service."),
            line("ble client discover all service successful."),
            re.compile(r"short_uuid = 0x180f"),
            line("execute the function discover_all_characteristic."),
            line("execute the function read_characteristic_by_uuid."),
            line("ble client read characteristic by uuid successful."),
            line("event_id : BLE_GATT_CHARA_READ_BY_UUID_IND, status = 0"),
        ],
        since,
        timeout=15,
    )
    return ms[-1].end()


def test_smp_demos_pair_with_numeric_comparison_then_reencrypt_from_the_bond(air, make_board, tmp_path):
    slots = (air.add_controller(), air.add_controller())
    envs = ({"MPBLE_BONDS": str(tmp_path / "server.bonds")}, {"MPBLE_BONDS": str(tmp_path / "client.bonds")})
    server, client, spos, cpos = start_pair(air, make_board, slots, envs)

    # -- first run: Numeric Comparison -------------------------------------
    cm = lines_in_order(
        client,
        [
            line("event_id : BLE_CONNECT_IND, status = 0"),
            line("[1]First pairing, ble smp start pair..."),
            line("event_id : BLE_GATT_SMP_USER_CONFIRM_IND, status = 0"),
            line("connect_id = 0x0000"),
            line("pair_mode = 0x0006"),
            line_re(r"pin_code = (\d+)"),
            line("[callback] ble client will execute 'ble.smpUserConfirm(connect_id, 1, 0)' to Confirm pairing"),
            line("event_id : BLE_GATT_SMP_COMPLETE_IND, status = 0"),
            line("[callback] ble smp pairing complete."),
        ],
        cpos,
        timeout=20,
    )
    sm = lines_in_order(
        server,
        [
            line("[callback] ble connect successful."),
            line("[ble_callback]event_id: BLE_GATT_SMP_USER_CONFIRM_IND"),
            line("connect_id = 0x0000"),
            line("pair_mode = 0x0006"),
            line_re(r"pin_code = (\d+)"),
            line("[callback] ble server will execute 'ble.smpUserConfirm(connect_id, 1, 0)' to Confirm pairing"),
            line("[ble_callback]event_id: BLE_GATT_SMP_COMPLETE_IND"),
            line("[callback] ble smp pairing complete."),
        ],
        spos,
        timeout=10,
    )
    client_number = int(cm[5].group(1))
    server_number = int(sm[4].group(1))
    assert client_number == server_number, "both sides must show the same number"
    assert 0 <= client_number <= 999999
    discovery_and_read(client, cm[-1].end())
    # A pairing happened: a Pairing Request from the client, the link
    # encrypted on both controllers.
    assert [p for p in smp_pdus(slots[1], 0, "H>C") if p[0] == PAIRING_REQUEST]
    assert events(slots[0], 0, EVT_ENCRYPTION_CHANGE) and events(slots[1], 0, EVT_ENCRYPTION_CHANGE)

    # Both demos now hold one bond, the other's address; it reached the
    # key stores.
    client_addr = bytes(slots[1].address)  # public, LSB first
    server_paired = server.eval("ble.smpGetPairedDevInfo()")
    client_paired = client.eval("ble.smpGetPairedDevInfo()")
    assert server_paired == repr([client_addr]), server_paired
    assert len(eval(client_paired)) == 1, client_paired
    for p in (tmp_path / "server.bonds", tmp_path / "client.bonds"):
        deadline = time.monotonic() + 3
        while not (p.exists() and p.stat().st_size == 8 + 59) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.exists() and p.stat().st_size == 8 + 59, p
    for text in (client.transcript[cpos:], server.transcript[spos:]):
        assert "pairing fail" not in text
    assert "[pair timer cb]" not in client.transcript[cpos:]

    # The client hangs up; both demos stop BLE on event 17 (gattStop).
    mark_c, mark_s = client.mark(), server.mark()
    assert client.eval("ble.disconnect(0)") == "0"
    client.expect(line("ble close successful."), 5, since=mark_c)
    server.expect(line("ble_gatt_close success."), 5, since=mark_s)
    assert_no_traceback(client)
    assert_no_traceback(server)
    server.close()
    client.close()

    # -- restart: new firmware processes, the same key stores ---------------
    restart = time.monotonic()
    server, client, spos, cpos = start_pair(air, make_board, slots, envs)
    cm = lines_in_order(
        client,
        [
            line("event_id : BLE_CONNECT_IND, status = 0"),
            line("paired list(1):"),
            line("Wait for automatic pairing, timeout is 1200ms."),
            line("event_id : BLE_GATT_SMP_COMPLETE_IND, status = 0"),
            line("[callback] ble smp pairing complete."),
            line("stop pair timer."),
        ],
        cpos,
        timeout=20,
    )
    lines_in_order(
        server,
        [
            line("[callback] ble connect successful."),
            line("[ble_callback]event_id: BLE_GATT_SMP_COMPLETE_IND"),
            line("[callback] ble smp pairing complete."),
        ],
        spos,
        timeout=10,
    )
    discovery_and_read(client, cm[-1].end())
    time.sleep(1.5)  # past the demo's 1.2 s timer: it must stay stopped
    ctext, stext = client.transcript[cpos:], server.transcript[spos:]
    assert "[pair timer cb]" not in ctext, "the fallback timer fired: no encryption from the bond in time"
    assert "SMP_USER_CONFIRM_IND" not in ctext and "SMP_USER_CONFIRM_IND" not in stext, "a new pairing ran"
    assert "First pairing" not in ctext
    # The air: no Pairing Request either way, LE Enable Encryption from the
    # client with the stored key, the server's controller asked for the key
    # and got it, both saw Encryption Change.
    for slot in slots:
        for direction in ("H>C", "C>H"):
            pdus = smp_pdus(slot, restart, direction)
            assert not [p for p in pdus if p[0] == PAIRING_REQUEST], (slot.name, direction, pdus)
    assert len(commands(slots[1], restart, HCI_LE_ENABLE_ENCRYPTION)) == 1
    assert events(slots[0], restart, EVT_LE_META, LE_LTK_REQUEST)
    assert len(commands(slots[0], restart, HCI_LE_LTK_REQUEST_REPLY)) == 1
    for slot in slots:
        changes = events(slot, restart, EVT_ENCRYPTION_CHANGE)
        assert changes and changes[-1][0] == 0 and changes[-1][-1] == 1, changes
    assert_no_traceback(client)
    assert_no_traceback(server)


def test_smp_demos_server_lost_its_bond_the_client_fallback_pairs_again(air, make_board, tmp_path):
    """The server's key store is gone after the restart (a new device, or a
    factory reset) while the client still holds the bond: the client's
    encryption with its stored key is refused (the server has no key:
    LE Long Term Key Request Negative Reply, Encryption Change 0x06 PIN or
    Key Missing), event 63 reports that status on the client, and the demo's
    1.2 s osTimer fallback calls smpStartPair: a new Numeric Comparison
    pairing, 63 status 0 on both, and the client reads."""
    slots = (air.add_controller(), air.add_controller())
    envs = ({"MPBLE_BONDS": str(tmp_path / "server.bonds")}, {"MPBLE_BONDS": str(tmp_path / "client.bonds")})
    server, client, spos, cpos = start_pair(air, make_board, slots, envs)
    cm = lines_in_order(
        client,
        [line("event_id : BLE_GATT_SMP_COMPLETE_IND, status = 0"), line("[callback] ble smp pairing complete.")],
        cpos,
        timeout=20,
    )
    discovery_and_read(client, cm[-1].end())
    deadline = time.monotonic() + 3
    while not (tmp_path / "client.bonds").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    mark_c, mark_s = client.mark(), server.mark()
    assert client.eval("ble.disconnect(0)") == "0"
    client.expect(line("ble close successful."), 5, since=mark_c)
    server.expect(line("ble_gatt_close success."), 5, since=mark_s)
    server.close()
    client.close()
    (tmp_path / "server.bonds").unlink()

    restart = time.monotonic()
    server, client, spos, cpos = start_pair(air, make_board, slots, envs)
    cm = lines_in_order(
        client,
        [
            line("paired list(1):"),
            line("Wait for automatic pairing, timeout is 1200ms."),
            line("event_id : BLE_GATT_SMP_COMPLETE_IND, status = 6"),
            line("[callback] ble smp pairing fail."),
            line("[pair timer cb]ble smp start pair..."),
            line("event_id : BLE_GATT_SMP_USER_CONFIRM_IND, status = 0"),
            line("pair_mode = 0x0006"),
            line("event_id : BLE_GATT_SMP_COMPLETE_IND, status = 0"),
            line("[callback] ble smp pairing complete."),
        ],
        cpos,
        timeout=20,
    )
    lines_in_order(
        server,
        [
            line("[ble_callback]event_id: BLE_GATT_SMP_USER_CONFIRM_IND"),
            line("pair_mode = 0x0006"),
            line("[ble_callback]event_id: BLE_GATT_SMP_COMPLETE_IND"),
            line("[callback] ble smp pairing complete."),
        ],
        spos,
        timeout=10,
    )
    discovery_and_read(client, cm[-1].end())
    # The server refused the old key, then a Pairing Request came.
    assert commands(slots[0], restart, 0x201B), "no LTK Request Negative Reply"
    assert [p for p in smp_pdus(slots[0], restart, "C>H") if p[0] == PAIRING_REQUEST]
    assert_no_traceback(client)
    assert_no_traceback(server)
