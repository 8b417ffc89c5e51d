"""Helpers shared by the QuecPython `ble` peripheral end-to-end tests
(test_qpy_server.py, test_qpy_hostile.py, test_qpy_indicate.py).

The vendor demo is read from the demos folder beside the repository
(`<repo>/../shared/demos`) or from $DEMOS; it is never copied into the repo.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Optional

from mpble_harness import repo_root

# What ble_server.py sets (ble_gatt_set_data / ble_gatt_set_rsp_data):
# Flags (len 2, type 0x01, 0x05 = LE Limited Discoverable | BR/EDR Not
# Supported) and Complete Local Name (len 12, type 0x09), Core Supplement
# Part A 1.3 / 1.2.
DEMO_NAME = b"Quectel_ble"
DEMO_ADV_DATA = bytes([0x02, 0x01, 0x05, 0x0C, 0x09]) + DEMO_NAME
DEMO_SCAN_RSP = bytes([0x0C, 0x09]) + DEMO_NAME

# HCI opcodes (Vol 4 Part E 7.8)
HCI_LE_SET_ADVERTISING_DATA = 0x2008
HCI_LE_SET_SCAN_RESPONSE_DATA = 0x2009
HCI_LE_SET_EXTENDED_ADVERTISING_DATA = 0x2037
HCI_LE_SET_EXTENDED_SCAN_RESPONSE_DATA = 0x2038

# ATT opcodes (Vol 3 Part F 3.4.8)
ATT_ERROR_RSP = 0x01
ATT_HANDLE_VALUE_NTF = 0x1B
ATT_HANDLE_VALUE_IND = 0x1D
ATT_HANDLE_VALUE_CFM = 0x1E
ATT_CID = 0x0004

# Good request sent after every hostile one: Read Request of handle 1 (the
# demo's primary service declaration, value 0x180F) -> Read Response 0B 0F 18.
GOOD_READ = bytes([0x0A, 0x01, 0x00])
GOOD_READ_RSP = bytes([0x0B, 0x0F, 0x18])


def demos_dir() -> Path:
    env = os.environ.get("DEMOS")
    return Path(env) if env else repo_root().parent / "shared" / "demos"


def demo_server_path() -> Path:
    path = demos_dir() / "quecpython" / "ble_server.py"
    assert path.exists(), f"vendor demo {path} not found (set DEMOS to the demos folder)"
    return path


def demo_with_sys_services(tmp_path: Path) -> Path:
    """A copy of ble_server.py in tmp_path with BLE_GATT_SYS_SERVICE = 1 (the
    only change)."""
    src = demo_server_path().read_bytes()
    old, new = b"BLE_GATT_SYS_SERVICE = 0", b"BLE_GATT_SYS_SERVICE = 1"
    assert src.count(old) == 1, f"expected exactly one {old!r} in the demo, found {src.count(old)}"
    out = tmp_path / "ble_server_sys.py"
    out.write_bytes(src.replace(old, new))
    return out


def scripts_dir() -> Path:
    return Path(__file__).resolve().parent / "scripts"


def err_rsp(req_opcode: int, handle: int, code: int) -> bytes:
    """ATT_ERROR_RSP (Vol 3 Part F 3.4.1.1): opcode, request opcode in error,
    handle in error (LE), error code."""
    return bytes([ATT_ERROR_RSP, req_opcode]) + handle.to_bytes(2, "little") + bytes([code])


def board_address(board) -> str:
    """The board's public address as Bumble prints it, without the /P."""
    return str(board.slot.address).split("/")[0]


def lsb_text(address) -> str:
    """How the demo prints an address buffer: its 6 bytes in buffer order
    (LSB first, HCI order), lowercase, colon-separated."""
    return ":".join(f"{b:02x}" for b in bytes(address))


def start_demo(board, path: Optional[Path] = None, timeout: float = 10.0) -> int:
    """Run the demo file unchanged on the board; wait until it advertises
    (fail at once if the demo reports a failed step). Returns the transcript
    position where the demo's output starts."""
    pos = board.run_file(path or demo_server_path())
    m = board.expect(r"ble_adv_start success\.|(\w+ failed\.)|Traceback", timeout, since=pos)
    assert m.group(0) == "ble_adv_start success.", f"the demo did not start advertising: {m.group(0)!r}"
    board.expect(r"ble_gatt_server_init success\.", 1, since=pos)
    board.expect(r"\[callback\] BLE start success\.", 1, since=pos)
    return pos


def connect_to_demo(peer, board, pos: int, timeout: float = 10.0):
    """Connect the peer (as central) to the board running the demo; wait for
    the demo's connect lines. Returns the Bumble Connection."""
    conn = peer.connect(board_address(board), timeout=timeout)
    board.expect(r"\[callback\] ble connect successful\.", timeout, since=pos)
    return conn


def att_pdus(peer, conn, opcode: int) -> list[bytes]:
    """Raw ATT PDUs with this opcode the peer received on `conn`."""
    return [pdu for _t, h, pdu in list(peer.att_log) if h == conn.handle and pdu[:1] == bytes([opcode])]


def wait_att_pdus(peer, conn, opcode: int, count: int = 1, timeout: float = 5.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while True:
        got = att_pdus(peer, conn, opcode)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def hci_commands(slot, opcode: int) -> list[bytes]:
    """Parameters of every HCI command with this opcode the board sent to its
    controller (H4 type 0x01, opcode LE, length, parameters)."""
    out = []
    for _t, direction, pkt in list(slot.hci_log):
        if direction != "H>C" or len(pkt) < 4 or pkt[0] != 0x01:
            continue
        if int.from_bytes(pkt[1:3], "little") == opcode:
            out.append(bytes(pkt[4 : 4 + pkt[3]]))
    return out


def acl_att_from_host(slot) -> list[bytes]:
    """ATT PDUs (L2CAP CID 4 payloads) the controller delivered to the board
    (C>H ACL packets holding a whole B-frame; Bumble's controller forwards a
    peer's L2CAP PDU unfragmented, see VIRTUAL-AIR.md)."""
    out = []
    for _t, direction, pkt in list(slot.hci_log):
        if direction != "C>H" or len(pkt) < 9 or pkt[0] != 0x02:
            continue
        l2len = int.from_bytes(pkt[5:7], "little")
        cid = int.from_bytes(pkt[7:9], "little")
        if cid == ATT_CID:
            out.append(bytes(pkt[9 : 9 + l2len]))
    return out


def board_conn_handle(air, board) -> int:
    """The connection handle the board's controller gave its (only) link."""

    def _get():
        conns = list(board.slot.controller.le_connections.values())
        assert len(conns) == 1, f"board controller has {len(conns)} connections"
        return conns[0].handle

    return air.call(_get)


def assert_no_traceback(board) -> None:
    text = board.text
    assert "Traceback (most recent call last)" not in text, "the board printed a traceback"


# QuecPython's client demos print from two threads: the main loop's
# "[hh:mm:ss] BLE Client running, count = N......" and the event handler's
# "[hh:mm:ss]event handler running.....". MicroPython's print() writes the
# text and its end ("\n") in two writes (py/modbuiltins.c), so on a board
# (theirs or ours) one thread's whole line can land between the other's text
# and its newline: "[13:41:30]event handler running.....ble open successful."
# A line we wait for may therefore sit right after, or right before, one of
# those two texts. Lookbehinds must be fixed-width: one per count width.
_OTHER_THREAD_BEFORE = (
    r"(?<=\]event handler running\.{5})"
    r"|(?<=running, count = \d\.{6})"
    r"|(?<=running, count = \d\d\.{6})"
    r"|(?<=running, count = \d\d\d\.{6})"
)
_OTHER_THREAD_AFTER = r"\[\d\d:\d\d:\d\d\](?:event handler running\.{5}| BLE Client running, count = \d+\.{6})"


def line_re(body: str) -> re.Pattern:
    """A regex matching the regex `body` as one whole output line. A
    script's first line may follow the prompt it was started from: the raw
    REPL's `>OK` (qemu and serial boards) or the friendly `>>> `; a line of
    the client demos may share its line with the other thread's text (see
    above)."""
    start = r"(?:^|(?<=>OK)|(?<=>>> )|" + _OTHER_THREAD_BEFORE + ")"
    end = r"(?:\r?$|(?=" + _OTHER_THREAD_AFTER + "))"
    return re.compile(r"(?m)" + start + body + end)


def line(text: str) -> re.Pattern:
    """A regex matching `text` as one whole output line (see `line_re`)."""
    return line_re(re.escape(text))


def lines_in_order(board, patterns: list, since: int, timeout: float = 5.0) -> list[re.Match]:
    """Wait until each regex matches after the previous one's end."""
    matches = []
    pos = since
    for p in patterns:
        m = board.expect(p, timeout, since=pos)
        matches.append(m)
        pos = m.end()
    return matches


# -- client (central) side -----------------------------------------------------------------
#
# Used by test_qpy_client.py and test_qpy_client_demo.py: the board is the
# central (QuecPython `ble.clientInit`), a Bumble Peer is the peripheral.


def demo_client_path() -> Path:
    path = demos_dir() / "quecpython" / "ble_client.py"
    assert path.exists(), f"vendor demo {path} not found (set DEMOS to the demos folder)"
    return path


def adv_data_with_name(name: bytes, flags: int = 0x06) -> bytes:
    """Flags (LE General Discoverable | BR/EDR Not Supported by default) and
    Complete Local Name (Core Supplement Part A 1.3 / 1.2)."""
    return bytes([0x02, 0x01, flags, len(name) + 1, 0x09]) + name


def peer_serve(peer, services: list, adv_data: bytes, interval_ms: float = 50.0, timeout: float = 5.0) -> None:
    """Give the peer's Bumble GATT server these services (after its default
    GAP and GATT services) and start connectable legacy advertising from its
    random static address with `adv_data`, every `interval_ms` ms (the
    virtual controller then sends a report to scanners every interval)."""
    from bumble.hci import OwnAddressType

    async def _go():
        peer.device.add_services(services)
        await peer.device.start_advertising(
            advertising_data=adv_data,
            scan_response_data=adv_data,
            own_address_type=OwnAddressType.RANDOM,
            auto_restart=False,
            advertising_interval_min=interval_ms,
            advertising_interval_max=interval_ms,
        )

    peer.air.run(_go(), timeout)


def gatt_layout(peer) -> list[tuple[int, str, int]]:
    """(handle, type UUID as str, end_group_handle) of every attribute in the
    peer's GATT server, in handle order."""

    def _get():
        return [(a.handle, str(a.type), a.end_group_handle) for a in peer.device.gatt_server.attributes]

    return peer.air.call(_get)


def att_pdus_to_board(slot, opcode: int) -> list[bytes]:
    """ATT PDUs with this opcode that reached the board (see acl_att_from_host)."""
    return [p for p in acl_att_from_host(slot) if p[:1] == bytes([opcode])]


def att_pdus_from_board(slot) -> list[bytes]:
    """ATT PDUs (L2CAP CID 4 payloads) the board sent to its controller
    (H>C ACL packets holding a whole B-frame: the board does not fragment
    below its controller's buffer size)."""
    out = []
    for _t, direction, pkt in list(slot.hci_log):
        if direction != "H>C" or len(pkt) < 9 or pkt[0] != 0x02:
            continue
        l2len = int.from_bytes(pkt[5:7], "little")
        cid = int.from_bytes(pkt[7:9], "little")
        if cid == ATT_CID:
            out.append(bytes(pkt[9 : 9 + l2len]))
    return out
