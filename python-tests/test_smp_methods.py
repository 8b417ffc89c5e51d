"""Every pairing method but Secure Connections Just Works / Numeric
Comparison (test_smp_pairing.py has those) against Bumble's SMP, an
independent implementation (Vol 3 Part H), in both roles, chosen with the
QuecPython API: smpSetConfig(io_capability, auth_req, passkey, timeout),
auth_req bit 3 (SC) cleared for LE legacy pairing.

- LE Secure Connections Passkey Entry (2.3.5.6.3), both directions: the
  board shows its configured passkey in event 64 (pair_mode 7) and Bumble's
  user types it; or Bumble shows one and the board's user types it with
  smpUserConfirm(cid, 2, pin) after event 64 (pair_mode 8).
- LE legacy pairing (2.3.5.2-2.3.5.5): Just Works (pair_mode 1) and Passkey
  Entry (pair_mode 2: the board shows; 3: the board types), the link
  encrypted with the STK, then the keys distributed (3.6.1).

Each pairing ends with Bumble's connection encrypted (connection.is_encrypted)
and a characteristic that needs encryption readable, where before pairing
its read was refused with Insufficient Authentication (no key yet). A wrong
passkey fails pairing with Confirm Value Failed (0x04) in event 63, the
characteristic stays unreadable, and a new Pairing Request at once is
refused with Repeated Attempts (0x09, 2.3.6).

As peripheral the board runs scripts/qpy_secure_server.py (value handle 3,
READ | READ_ENCRYPTION); as central scripts/qpy_client.py, and Bumble serves
one characteristic whose read requires encryption (before pairing the
board's read gets event 37, Insufficient Encryption). Legacy bonds then
encrypt the next link in both roles, and two boards (both sides ours) pair
with Passkey Entry, SC and legacy.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bumble import att
from bumble.gatt import Characteristic, Service
from bumble.pairing import PairingConfig, PairingDelegate

from qpy_common import assert_no_traceback, board_address, err_rsp, hci_commands
from test_smp_pairing import (
    ATT_READ_REQ,
    ATT_READ_RSP,
    INSUFFICIENT_AUTHENTICATION,
    SECRET,
    VALUE_HANDLE,
    read_request,
    start_server,
    wait_until,
)

IO = PairingDelegate.IoCapability
HCI_LE_LTK_REQUEST_REPLY = 0x201A
HCI_LE_ENABLE_ENCRYPTION = 0x2019
CONFIRM_VALUE_FAILED = 0x04
REPEATED_ATTEMPTS = 0x09
# smpSetConfig auth_req bits (reference §2.4): bonding 0x01, MITM 0x04, SC 0x08.
SC_MITM_BOND = 0x0D
LEGACY_MITM_BOND = 0x05
LEGACY_BOND = 0x01
# smpSetConfig io_capability (Vol 3 Part H 3.5.1).
DISPLAY_ONLY, KEYBOARD_ONLY, NO_IO = 0, 2, 3


class Keypad(PairingDelegate):
    """Bumble's user: types the passkey the test hands over (`typed`, waited
    for), records the passkeys Bumble shows and how often it was asked."""

    def __init__(self, io_capability) -> None:
        super().__init__(io_capability=io_capability)
        self.typed: int | None = None
        self.shown: list[int] = []
        self.asked = 0

    async def get_number(self) -> int | None:
        self.asked += 1
        while self.typed is None:
            await asyncio.sleep(0.02)
        return self.typed

    async def display_number(self, number: int, digits: int) -> None:
        self.shown.append(number)

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return True

    async def confirm(self, auto: bool = False) -> bool:
        return True


def bumble_pairs_with(peer, *, sc: bool, mitm: bool, io) -> Keypad:
    keypad = Keypad(io)
    config = PairingConfig(sc=sc, mitm=mitm, bonding=True, delegate=keypad)
    peer.air.call(lambda: setattr(peer.device, "pairing_config_factory", lambda _conn: config))
    return keypad


# -- the board as peripheral ----------------------------------------------------


def peripheral(board, peer, config: str):
    """The secure server, configured, and Bumble connected to it: before
    pairing the protected value is refused (no key for the link)."""
    start_server(board)
    assert board.exec(f"print(ble.smpSetConfig({config}))").strip().endswith("0")
    conn = peer.connect(board_address(board))
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == err_rsp(
        ATT_READ_REQ, VALUE_HANDLE, INSUFFICIENT_AUTHENTICATION
    )
    return conn


def start_pairing(peer, conn):
    return peer.air.call(lambda: asyncio.ensure_future(conn.pair()))


def paired_and_readable(board, peer, conn, task, mark) -> None:
    board.expect(r"EVENT 63 0\r", 20, since=mark)
    assert wait_until(lambda: conn.is_encrypted), "Bumble's link never became encrypted"
    assert wait_until(lambda: task.done(), 10), "Bumble's pairing never ended"
    assert task.exception() is None, task.exception()
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == bytes([ATT_READ_RSP]) + SECRET
    assert_no_traceback(board)


# One pairing per method, as peripheral and as central: (board's IO
# capability, auth_req, passkey; Bumble's SC, MITM, IO capability; the
# pair_mode of event 64, Table 2.8; who types the passkey the other shows).
METHODS = {
    "sc-passkey-bumble-types": (DISPLAY_ONLY, SC_MITM_BOND, 654321, True, True, IO.KEYBOARD_INPUT_ONLY, 7, "bumble"),
    "sc-passkey-board-types": (KEYBOARD_ONLY, SC_MITM_BOND, 0, True, True, IO.DISPLAY_OUTPUT_ONLY, 8, "board"),
    "legacy-just-works": (NO_IO, LEGACY_BOND, 0, False, False, IO.NO_OUTPUT_NO_INPUT, 1, None),
    "legacy-passkey-bumble-types": (DISPLAY_ONLY, LEGACY_MITM_BOND, 123456, False, True, IO.KEYBOARD_INPUT_ONLY, 2, "bumble"),
    "legacy-passkey-board-types": (KEYBOARD_ONLY, LEGACY_MITM_BOND, 0, False, True, IO.DISPLAY_OUTPUT_ONLY, 3, "board"),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_peripheral_pairs(board, peer, method):
    io, auth, passkey, sc, mitm, bumble_io, pair_mode, typist = METHODS[method]
    conn = peripheral(board, peer, f"{io}, {auth}, {passkey}, 600")
    keypad = bumble_pairs_with(peer, sc=sc, mitm=mitm, io=bumble_io)
    mark = board.mark()
    task = start_pairing(peer, conn)
    # Event 64: the method's pair_mode, and the passkey the board shows (the
    # configured one) or 0.
    m = board.expect(rf"PROMPT 0 {pair_mode} (\d+)\r", 15, since=mark)
    assert int(m.group(1)) == (passkey if typist == "bumble" else 0)
    if typist is not None:
        if typist == "board":
            assert wait_until(lambda: keypad.shown), "Bumble showed no passkey"
        time.sleep(0.3)
        assert not conn.is_encrypted, "encrypted before the passkey was typed"
        if typist == "bumble":
            keypad.typed = passkey
        else:
            assert board.exec(f"print(ble.smpUserConfirm(0, 2, {keypad.shown[0]}))").strip().endswith("0")
    paired_and_readable(board, peer, conn, task, mark)
    assert keypad.asked == (1 if typist == "bumble" else 0)
    # One LTK Request, answered with the STK (legacy) or the LTK (SC).
    assert len(hci_commands(board.slot, HCI_LE_LTK_REQUEST_REPLY)) == 1
    # Bonded: the peer is in the list.
    assert board.exec("print(len(ble.smpGetPairedDevInfo()))").strip().endswith("1")


def smp_reason(task) -> int | None:
    """The Pairing Failed reason Bumble's pairing ended with."""
    e = task.exception()
    return getattr(e, "error_code", None)


def pairing_failed_and_locked(peer, conn, task, reason, timeout, handle=VALUE_HANDLE) -> None:
    """Bumble's pairing ended within `timeout` s with Pairing Failed
    `reason`, its link is not encrypted, and the protected value is still
    refused with Insufficient Authentication."""
    assert wait_until(lambda: task.done(), timeout)
    assert smp_reason(task) == reason, task.exception()
    assert not conn.is_encrypted
    assert peer.att_raw(conn, read_request(handle)) == err_rsp(
        ATT_READ_REQ, handle, INSUFFICIENT_AUTHENTICATION
    )


def test_peripheral_wrong_passkey_fails_and_the_value_stays_locked(board, peer):
    conn = peripheral(board, peer, f"{DISPLAY_ONLY}, {SC_MITM_BOND}, 654321, 600")
    keypad = bumble_pairs_with(peer, sc=True, mitm=True, io=IO.KEYBOARD_INPUT_ONLY)
    mark = board.mark()
    task = start_pairing(peer, conn)
    m = board.expect(r"PROMPT 0 7 (\d+)", 15, since=mark)
    keypad.typed = int(m.group(1)) ^ 1
    # The board (responder) checks Bumble's first confirm value against its
    # nonce: Pairing Failed, Confirm Value Failed, also in event 63.
    board.expect(rf"EVENT 63 {CONFIRM_VALUE_FAILED}\r", 15, since=mark)
    pairing_failed_and_locked(peer, conn, task, CONFIRM_VALUE_FAILED, 10)
    assert hci_commands(board.slot, HCI_LE_LTK_REQUEST_REPLY) == []
    assert board.exec("print(ble.smpGetPairedDevInfo())").strip().endswith("[]")
    # 2.3.6: a new Pairing Request at once is refused with Repeated
    # Attempts; the link stays up and locked.
    task = start_pairing(peer, conn)
    pairing_failed_and_locked(peer, conn, task, REPEATED_ATTEMPTS, 10)
    assert_no_traceback(board)


# -- the board as central ---------------------------------------------------------

LOCKED = b"locked-value"


def central(board, peer):
    """The board (scripts/qpy_client.py) connected to Bumble serving one
    characteristic whose read requires encryption; before pairing the
    board's read of it fails. Returns the rig and the value handle."""
    from test_qpy_client import PEER_ADV, Rig
    from qpy_common import peer_serve

    locked = Characteristic(
        "FFF7", Characteristic.Properties.READ, Characteristic.READ_REQUIRES_ENCRYPTION, LOCKED
    )
    rig = Rig(board, peer, serve=False)
    peer_serve(peer, [Service("FFF6", [locked])], PEER_ADV)
    handle = peer.air.call(lambda: locked.handle)
    evs = rig.connect()
    assert (16, 0, 0, rig.peer_addr) in evs, evs
    assert_locked(rig, handle)
    return rig, handle


def assert_locked(rig, handle) -> None:
    """The board's read gets an ATT error (event 37): Insufficient
    Encryption (0x0F) or Authentication (0x05), and no value."""
    _pos, evs = rig.request(f"ble.readCharaByHandle(0, {handle}, 0, 0)", 37)
    assert [e for e in evs if e[0] == 37] in ([(37, 0, 0x0F)], [(37, 0, 0x05)]), evs
    assert not [e for e in evs if e[0] == 32], evs


def central_paired_and_reads(rig, handle, pos) -> None:
    evs = rig.c.wait_ids(pos, 63, timeout=20)
    assert (63, 0) in evs, evs
    assert wait_until(lambda: rig.conn.is_encrypted), "Bumble's link never became encrypted"
    # Our LE Enable Encryption started it.
    assert len(hci_commands(rig.board.slot, HCI_LE_ENABLE_ENCRYPTION)) >= 1
    _pos, evs = rig.request(f"ble.readCharaByHandle(0, {handle}, 0, 0)", 32)
    assert (32, 0, len(LOCKED), LOCKED) in evs, evs
    assert_no_traceback(rig.board)


@pytest.mark.parametrize("method", list(METHODS))
def test_central_pairs(board, peer, method):
    io, auth, passkey, sc, mitm, bumble_io, pair_mode, typist = METHODS[method]
    keypad = bumble_pairs_with(peer, sc=sc, mitm=mitm, io=bumble_io)
    rig, handle = central(board, peer)
    assert rig.c.call(f"ble.smpSetConfig({io}, {auth}, {passkey}, 600)") == 0
    pos = rig.c.pos()
    assert rig.c.call("ble.smpStartPair(0)") == 0
    evs = rig.c.wait_ids(pos, 64, timeout=15)
    assert (64, 0, 0, pair_mode, passkey if typist == "bumble" else 0) in evs, evs
    if typist == "board":
        assert wait_until(lambda: keypad.shown), "Bumble showed no passkey"
        time.sleep(0.3)
        assert not rig.conn.is_encrypted, "encrypted before our user typed"
        assert rig.c.call(f"ble.smpUserConfirm(0, 2, {keypad.shown[0]})") == 0
    elif typist == "bumble":
        keypad.typed = passkey
    central_paired_and_reads(rig, handle, pos)
    # Bonded with the keys Bumble distributed.
    assert rig.c.call("ble.smpGetPairedDevInfo()") == repr([rig.peer_addr])


def test_central_wrong_passkey_fails_and_the_value_stays_locked(board, peer):
    keypad = bumble_pairs_with(peer, sc=True, mitm=True, io=IO.DISPLAY_OUTPUT_ONLY)
    rig, handle = central(board, peer)
    assert rig.c.call(f"ble.smpSetConfig({KEYBOARD_ONLY}, {SC_MITM_BOND}, 0, 600)") == 0
    pos = rig.c.pos()
    assert rig.c.call("ble.smpStartPair(0)") == 0
    rig.c.wait_ids(pos, 64, timeout=15)
    assert wait_until(lambda: keypad.shown)
    wrong = keypad.shown[0] ^ 1
    assert rig.c.call(f"ble.smpUserConfirm(0, 2, {wrong})") == 0
    # Bumble (responder) finds our confirm value wrong: Pairing Failed,
    # Confirm Value Failed, in event 63; no encryption, no bond.
    evs = rig.c.wait_ids(pos, 63, timeout=15)
    assert (63, CONFIRM_VALUE_FAILED) in evs, evs
    assert not rig.conn.is_encrypted
    assert hci_commands(board.slot, HCI_LE_ENABLE_ENCRYPTION) == []
    assert rig.c.call("ble.smpGetPairedDevInfo()") == "[]"
    assert_locked(rig, handle)
    assert_no_traceback(board)


# -- Pycom: Bluetooth(pin=...) --------------------------------------------------

PYCOM_SERVER = """
from network import Bluetooth
bt = Bluetooth(pin=123456)
bt.set_advertisement(name='pin')
srv = bt.service(uuid=0xAB00)
c = srv.characteristic(uuid=0xAB01, value=b'pin-protected')
bt.advertise(True)
print('READY')
"""


def pycom_pin_server(board, peer):
    """A Pycom board started with Bluetooth(pin=123456): its characteristic
    got the secure default permissions (PERM_READ_ENCRYPTED |
    PERM_WRITE_ENCRYPTED), so before pairing a read is refused."""
    pos = board.exec_nowait(PYCOM_SERVER, timeout=20)
    board.expect("READY", 20, since=pos)
    conn = peer.connect(board_address(board), timeout=10)
    ch = peer.find_characteristic(conn, "AB01")
    assert peer.att_raw(conn, read_request(ch.handle)) == err_rsp(
        ATT_READ_REQ, ch.handle, INSUFFICIENT_AUTHENTICATION
    )
    return conn, ch.handle


def test_pycom_pin_bumble_types_the_pin(board, peer):
    conn, handle = pycom_pin_server(board, peer)
    keypad = bumble_pairs_with(peer, sc=True, mitm=True, io=IO.KEYBOARD_INPUT_ONLY)
    keypad.typed = 123456
    peer.air.run(conn.pair(), 20)
    assert wait_until(lambda: conn.is_encrypted)
    assert peer.att_raw(conn, read_request(handle)) == bytes([ATT_READ_RSP]) + b"pin-protected"
    assert keypad.asked == 1
    assert_no_traceback(board)


def test_pycom_wrong_pin_fails_and_the_value_stays_locked(board, peer):
    conn, handle = pycom_pin_server(board, peer)
    keypad = bumble_pairs_with(peer, sc=True, mitm=True, io=IO.KEYBOARD_INPUT_ONLY)
    keypad.typed = 123457
    task = start_pairing(peer, conn)
    pairing_failed_and_locked(peer, conn, task, CONFIRM_VALUE_FAILED, 15, handle)
    assert_no_traceback(board)


def test_pycom_set_pin_and_its_range(board, peer):
    out = board.exec(
        "from network import Bluetooth\n"
        "bt = Bluetooth()\n"
        "s = bt.service(uuid=0xAC00)\n"
        "c = s.characteristic(uuid=0xAC01, value=b'open')\n"
        "bt.set_pin(654321)\n"
        "d = s.characteristic(uuid=0xAC02, value=b'shut')\n"
        "for bad in (-1, 1000000):\n"
        "    try:\n"
        "        bt.set_pin(bad)\n"
        "    except ValueError as e:\n"
        "        print('VE', e)\n"
        "bt.set_advertisement(name='setpin')\n"
        "bt.advertise(True)\n"
        "print('READY')\n",
        20,
    )
    assert out.count("VE Pin code with 1-6 digit length is allowed only!") == 2, out
    conn = peer.connect(board_address(board), timeout=10)
    open_c = peer.find_characteristic(conn, "AC01")
    shut_c = peer.find_characteristic(conn, "AC02")
    # A characteristic made before set_pin keeps its permissions; one made
    # after gets the encrypted default.
    assert peer.att_raw(conn, read_request(open_c.handle)) == bytes([ATT_READ_RSP]) + b"open"
    assert peer.att_raw(conn, read_request(shut_c.handle)) == err_rsp(
        ATT_READ_REQ, shut_c.handle, INSUFFICIENT_AUTHENTICATION
    )
    keypad = bumble_pairs_with(peer, sc=True, mitm=True, io=IO.KEYBOARD_INPUT_ONLY)
    keypad.typed = 654321
    peer.air.run(conn.pair(), 20)
    assert wait_until(lambda: conn.is_encrypted)
    assert peer.att_raw(conn, read_request(shut_c.handle)) == bytes([ATT_READ_RSP]) + b"shut"
    assert_no_traceback(board)


# -- legacy bonds encrypt the next link -----------------------------------------


def hci_events(slot, code: int) -> list[bytes]:
    """Parameters of every HCI event with this code the controller sent the
    board (H4 type 0x04, code, length, parameters)."""
    return [
        bytes(pkt[3 : 3 + pkt[2]])
        for _t, direction, pkt in list(slot.hci_log)
        if direction == "C>H" and len(pkt) >= 3 and pkt[0] == 0x04 and pkt[1] == code
    ]


def test_peripheral_legacy_bond_encrypts_the_next_link_without_pairing(board, peer):
    """Legacy pairing distributes the board's LTK with its EDIV and Rand
    (Encryption Information, Central Identification; 3.6.2, 3.6.3). Bumble
    keeps them (its key store), reconnects and encrypts with them: the
    board finds the bond by EDIV and Rand in the LE Long Term Key Request
    and the link is encrypted without a second pairing."""
    from bumble.keys import MemoryKeyStore

    peer.air.call(lambda: setattr(peer.device, "keystore", MemoryKeyStore()))
    conn = peripheral(board, peer, f"{NO_IO}, {LEGACY_BOND}, 0, 600")
    bumble_pairs_with(peer, sc=False, mitm=False, io=IO.NO_OUTPUT_NO_INPUT)
    mark = board.mark()
    task = start_pairing(peer, conn)
    paired_and_readable(board, peer, conn, task, mark)
    # The first encryption used the STK: EDIV 0 and Rand 0 (2.4.4.2).
    ltk_requests = [p for p in hci_events(board.slot, 0x3E) if p[:1] == b"\x05"]
    assert len(ltk_requests) == 1 and ltk_requests[0][3:13] == bytes(10), ltk_requests

    peer.air.run(conn.disconnect(), 5)
    board.expect(r"EVENT 17 ", 5, since=mark)
    assert board.exec("print(ble.advStart())").strip().endswith("0")
    conn = peer.connect(board_address(board))
    mark = board.mark()
    peer.air.run(conn.encrypt(), 10)
    assert wait_until(lambda: conn.is_encrypted), "the bond did not encrypt the link"
    board.expect(r"EVENT 63 0\r", 10, since=mark)
    assert "PROMPT" not in board.transcript[mark:], "paired again"
    ltk_requests = [p for p in hci_events(board.slot, 0x3E) if p[:1] == b"\x05"]
    assert len(ltk_requests) == 2 and ltk_requests[1][3:13] != bytes(10), ltk_requests
    replies = hci_commands(board.slot, HCI_LE_LTK_REQUEST_REPLY)
    assert len(replies) == 2, replies
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == bytes([ATT_READ_RSP]) + SECRET
    assert_no_traceback(board)


def test_central_legacy_bond_encrypts_the_next_link_without_pairing(board, peer):
    """The board as central keeps the LTK, EDIV and Rand Bumble distributed
    in legacy pairing; on the next connection it encrypts with them at
    once (LE Enable Encryption with that EDIV and Rand), Bumble finds its
    key, and the protected value reads without a second pairing."""
    from bumble.hci import OwnAddressType
    from bumble.keys import MemoryKeyStore

    from test_qpy_client import PEER_ADV

    peer.air.call(lambda: setattr(peer.device, "keystore", MemoryKeyStore()))
    bumble_pairs_with(peer, sc=False, mitm=False, io=IO.NO_OUTPUT_NO_INPUT)
    rig, handle = central(board, peer)
    assert rig.c.call(f"ble.smpSetConfig({NO_IO}, {LEGACY_BOND}, 0, 600)") == 0
    pos = rig.c.pos()
    assert rig.c.call("ble.smpStartPair(0)") == 0
    central_paired_and_reads(rig, handle, pos)
    starts = hci_commands(board.slot, HCI_LE_ENABLE_ENCRYPTION)
    # LE Enable Encryption: handle, Rand, EDIV, key; the STK has 0 and 0.
    assert len(starts) == 1 and starts[0][2:12] == bytes(10), starts

    # Bumble's responder files its own legacy LTK under `ltk_central` and
    # answers an LE Long Term Key Request as peripheral from `ltk_peripheral`
    # (the initiator's, which we do not distribute), without looking at
    # EDIV and Rand (bumble/smp.py Session.on_pairing,
    # bumble/device.py get_long_term_key). The peripheral's answer per 2.4.4:
    # the LTK it distributed, found by its EDIV and Rand.
    store = peer.device.keystore
    (_name, keys), = peer.air.run(store.get_all(), 5)
    own = keys.ltk_central
    assert own is not None and own.ediv is not None, keys
    asked = []

    async def by_ediv_rand(_handle, rand, ediv):
        asked.append((bytes(rand), ediv))
        if bytes(rand) == bytes(own.rand) and ediv == own.ediv:
            return own.value
        return None

    peer.air.call(lambda: setattr(peer.device.host, "long_term_key_provider", by_ediv_rand))

    pos = rig.c.pos()
    assert rig.c.call("ble.disconnect(0)") == 0
    rig.c.wait_ids(pos, 17, timeout=5)
    peer.air.run(
        peer.device.start_advertising(
            advertising_data=PEER_ADV,
            own_address_type=OwnAddressType.RANDOM,
            auto_restart=False,
            advertising_interval_min=50,
            advertising_interval_max=50,
        ),
        5,
    )
    evs = rig.connect()
    assert (16, 0, 0, rig.peer_addr) in evs, evs
    pos = rig.c.pos()
    assert wait_until(lambda: rig.conn.is_encrypted), "the bond did not encrypt the link"
    starts = hci_commands(board.slot, HCI_LE_ENABLE_ENCRYPTION)
    # The bond's key: Bumble's distributed LTK with its Rand and EDIV
    # (Bumble makes them 0), not the STK of the first link.
    assert len(starts) == 2, starts
    assert starts[1][2:12] == bytes(own.rand) + own.ediv.to_bytes(2, "little"), starts
    assert starts[1][12:] == bytes(own.value) != starts[0][12:], starts
    assert asked == [(bytes(own.rand), own.ediv)], (asked, own)
    _pos, evs = rig.request(f"ble.readCharaByHandle(0, {handle}, 0, 0)", 32)
    assert (32, 0, len(LOCKED), LOCKED) in evs, evs
    assert not [e for e in rig.c.events(pos) if e[0] == 64], "paired again"
    assert_no_traceback(board)


# -- our two roles, board to board ------------------------------------------------


@pytest.mark.parametrize("auth", [SC_MITM_BOND, LEGACY_MITM_BOND], ids=["sc", "legacy"])
def test_board_to_board_passkey(two_boards, auth):
    """Both sides ours: the server board shows its passkey (event 64 mode 7,
    or 2 for legacy), the client board's user types it (mode 8 or 3,
    smpUserConfirm(0, 2, pin)); both report event 63 status 0 and the
    client reads the encrypted value."""
    from test_qpy_client import Central

    server, client = two_boards
    start_server(server)
    assert server.exec(f"print(ble.smpSetConfig({DISPLAY_ONLY}, {auth}, 314159, 600))").strip().endswith("0")
    c = Central(client)
    assert c.call(f"ble.smpSetConfig({KEYBOARD_ONLY}, {auth}, 0, 600)") == 0
    addr = bytes(server.slot.address)
    pos = c.pos()
    assert c.call(f"ble.connect(0, {addr!r})") == 0
    c.wait_ids(pos, 16, timeout=5)
    # Before pairing the value is refused (event 37).
    pos = c.pos()
    assert c.call(f"ble.readCharaByHandle(0, {VALUE_HANDLE}, 0, 0)") == 0
    evs = c.wait_ids(pos, 37, timeout=5)
    assert (37, 0, INSUFFICIENT_AUTHENTICATION) in evs, evs
    mark = server.mark()
    pos = c.pos()
    assert c.call("ble.smpStartPair(0)") == 0
    shown = int(server.expect(rf"PROMPT 0 {7 if auth & 0x08 else 2} (\d+)", 15, since=mark).group(1))
    assert shown == 314159
    evs = c.wait_ids(pos, 64, timeout=15)
    assert (64, 0, 0, 8 if auth & 0x08 else 3, 0) in evs, evs
    assert c.call(f"ble.smpUserConfirm(0, 2, {shown})") == 0
    evs = c.wait_ids(pos, 63, timeout=15)
    assert (63, 0) in evs, evs
    server.expect(r"EVENT 63 0\r", 10, since=mark)
    pos = c.pos()
    assert c.call(f"ble.readCharaByHandle(0, {VALUE_HANDLE}, 0, 0)") == 0
    evs = c.wait_ids(pos, 32, timeout=5)
    assert (32, 0, len(SECRET), SECRET) in evs, evs
    assert_no_traceback(server)
    assert_no_traceback(client)
