"""The board's L2CAP signaling and SMP channels against a Bumble central,
while the unchanged QuecPython server demo runs.

- LE signaling (Vol 3 Part A 4): a command the board does not support is
  answered with Command Reject "command not understood" (reason 0x0000)
  carrying the request's identifier; the link keeps serving ATT.
- A Connection Parameter Update Request sent to the board as peripheral
  gets Command Reject "command not understood" (Vol 3 Part A 4.20: only a
  central may receive it), not an Update Response.
- SMP (Vol 3 Part H 2.3.5.1): a Pairing Request without the Secure
  Connections flag gets LE legacy pairing: a Pairing Response, then Just
  Works with the demo's default configuration; Bumble's own pairing
  procedure completes, the link is encrypted and keeps serving ATT. (Every
  method: test_smp_pairing.py, test_smp_methods.py.)
"""

from __future__ import annotations

import time

from bumble.pairing import PairingConfig

from qpy_common import GOOD_READ, GOOD_READ_RSP, assert_no_traceback, connect_to_demo, hci_commands, start_demo

CID_LE_SIGNALING = 0x0005
HCI_LE_CONNECTION_UPDATE = 0x2013
CID_SMP = 0x0006


def record_l2cap(peer) -> list:
    """Every L2CAP PDU the peer's host receives, as (handle, cid, payload)."""
    seen: list = []
    peer.air.call(lambda: peer.device.host.on("l2cap_pdu", lambda h, cid, pdu: seen.append((h, cid, bytes(pdu)))))
    return seen


def wait_for(seen: list, cid: int, timeout: float = 5.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [pdu for _h, c, pdu in list(seen) if c == cid]
        if got:
            return got
        time.sleep(0.02)
    return []


def test_unsupported_signaling_commands_get_command_reject(board, peer):
    pos = start_demo(board)
    conn = connect_to_demo(peer, board, pos)
    seen = record_l2cap(peer)

    # An unknown code 0x77, identifier 0x09, no data.
    peer.l2cap_send(conn, CID_LE_SIGNALING, bytes([0x77, 0x09, 0x00, 0x00]))
    # Command Reject: code 0x01, same identifier, length 2, reason 0x0000.
    assert wait_for(seen, CID_LE_SIGNALING) == [bytes([0x01, 0x09, 0x02, 0x00, 0x00, 0x00])]
    assert peer.att_raw(conn, GOOD_READ) == GOOD_READ_RSP

    # LE Credit Based Connection Request (code 0x14) for SPSM 0x0080: LE
    # credit based channels are optional and not offered here.
    seen.clear()
    request = bytes([0x14, 0x0A, 0x0A, 0x00, 0x80, 0x00, 0x40, 0x00, 0x17, 0x00, 0x17, 0x00, 0x01, 0x00])
    peer.l2cap_send(conn, CID_LE_SIGNALING, request)
    assert wait_for(seen, CID_LE_SIGNALING) == [bytes([0x01, 0x0A, 0x02, 0x00, 0x00, 0x00])]

    # A Command Reject sent to the board is never answered (no reject loop).
    seen.clear()
    peer.l2cap_send(conn, CID_LE_SIGNALING, bytes([0x01, 0x0B, 0x02, 0x00, 0x00, 0x00]))
    assert peer.att_raw(conn, GOOD_READ) == GOOD_READ_RSP
    assert wait_for(seen, CID_LE_SIGNALING, timeout=0.5) == []
    assert_no_traceback(board)


def test_connection_parameter_update_request_to_the_peripheral_is_rejected(board, peer):
    """Only a central may receive a Connection Parameter Update Request; a
    peripheral answers Command Reject, reason 0x0000 "command not understood"
    (Vol 3 Part A 4.20), and changes nothing."""
    pos = start_demo(board)
    conn = connect_to_demo(peer, board, pos)
    seen = record_l2cap(peer)
    mark = board.mark()

    # Bumble is the central here; it sends the request a peripheral would:
    # code 0x12, identifier 0x21, length 8, interval 24..40 (30-50 ms),
    # latency 0, timeout 500 (5 s), all valid values.
    request = bytes([0x12, 0x21, 0x08, 0x00, 0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0xF4, 0x01])
    peer.l2cap_send(conn, CID_LE_SIGNALING, request)
    assert wait_for(seen, CID_LE_SIGNALING) == [bytes([0x01, 0x21, 0x02, 0x00, 0x00, 0x00])]
    # No parameter change followed: no LE Connection Update from the board,
    # no event 18 in the demo, and the link still serves ATT.
    assert hci_commands(board.slot, HCI_LE_CONNECTION_UPDATE) == []
    assert peer.att_raw(conn, GOOD_READ) == GOOD_READ_RSP
    assert "event_id=18" not in board.transcript[mark:]
    assert_no_traceback(board)


def test_legacy_pairing_encrypts_and_the_link_survives(board, peer):
    pos = start_demo(board)
    conn = connect_to_demo(peer, board, pos)
    seen = record_l2cap(peer)

    # Bumble's own SMP initiator (an independent implementation) asks for
    # LE legacy pairing.
    config = PairingConfig(sc=False, mitm=False, bonding=False)
    peer.air.call(lambda: setattr(peer.device, "pairing_config_factory", lambda _conn: config))
    peer.air.run(conn.pair(), 20)
    # The board answered with a Pairing Response (0x02) without the SC
    # bit's effect: legacy Just Works (Bumble did not set it).
    smp = wait_for(seen, CID_SMP)
    assert smp and smp[0][0] == 0x02, smp
    deadline = time.monotonic() + 5
    while not conn.is_encrypted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert conn.is_encrypted
    assert conn.handle is not None
    assert peer.att_raw(conn, GOOD_READ) == GOOD_READ_RSP
    assert "disconnect" not in board.text[pos:].split("ble_adv_start success.")[-1]
    assert_no_traceback(board)
