"""LE Secure Connections Just Works with the board as peripheral (responder),
against Bumble's SMP as central (an independent implementation, Vol 3 Part H).

The board runs scripts/qpy_secure_server.py: one characteristic (value handle
3) whose read permission needs an encrypted link.

- Before pairing, reading it gets Insufficient Authentication (0x05): the
  board holds no LTK for the link, so the client must pair (Vol 3 Part C
  10.3.1.1).
- Bumble pairs (sc, no MITM, NoInputNoOutput): the board answers with its own
  key pair and nonce from the controller's LE Rand, Bumble starts encryption,
  the board answers the LE Long Term Key Request with the pairing's LTK, and
  the link is encrypted with a 16-octet key; the read then returns the value.
- Hostile: a Pairing Public Key that is not on P-256 (CVE-2018-5383) ends
  pairing with Pairing Failed, DHKey Check Failed (0x0B); no key is made,
  the board keeps serving, and an honest pairing on the same link then
  succeeds (the failed session was freed).
"""

from __future__ import annotations

import time

from bumble.pairing import PairingConfig, PairingDelegate

from qpy_common import assert_no_traceback, board_address, err_rsp, hci_commands, scripts_dir

CID_SMP = 0x0006
VALUE_HANDLE = 3
SECRET = b"secret-value"
ATT_READ_REQ = 0x0A
ATT_READ_RSP = 0x0B
INSUFFICIENT_AUTHENTICATION = 0x05
HCI_LE_RAND = 0x2018
HCI_LE_LTK_REQUEST_REPLY = 0x201A
HCI_LE_LTK_REQUEST_NEGATIVE_REPLY = 0x201B


def start_server(board) -> None:
    out = board.exec((scripts_dir() / "qpy_secure_server.py").read_text(), timeout=15)
    assert "READY" in out and "SETUP [0, 0, 0, 0, 0, 0, 0, 0]" in out, out


def just_works(peer, bonding: bool = True) -> None:
    delegate = PairingDelegate(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
    config = PairingConfig(sc=True, mitm=False, bonding=bonding, delegate=delegate)
    peer.air.call(lambda: setattr(peer.device, "pairing_config_factory", lambda _conn: config))


def read_request(handle: int) -> bytes:
    return bytes([ATT_READ_REQ]) + handle.to_bytes(2, "little")


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_sc_just_works_encrypts_the_link_and_unlocks_the_characteristic(board, peer):
    start_server(board)
    just_works(peer)
    conn = peer.connect(board_address(board))

    # Before pairing: no LTK for this link, so Insufficient Authentication.
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == err_rsp(
        ATT_READ_REQ, VALUE_HANDLE, INSUFFICIENT_AUTHENTICATION
    )
    assert not conn.is_encrypted

    peer.air.run(conn.pair(), 20)
    assert wait_until(lambda: conn.is_encrypted), "Bumble's link never became encrypted"
    # (Bumble's link layer does not report the key size: conn.encryption_key_size
    # stays 0. The host's 16 octets are checked by cargo test.)

    # The board's randomness came from its controller (6 LE Rand: the
    # private key and Nb), and the LTK Request got the key, not a refusal.
    assert len(hci_commands(board.slot, HCI_LE_RAND)) >= 6
    replies = hci_commands(board.slot, HCI_LE_LTK_REQUEST_REPLY)
    assert len(replies) == 1, replies
    assert hci_commands(board.slot, HCI_LE_LTK_REQUEST_NEGATIVE_REPLY) == []

    # Encrypted: the value is readable, through Bumble's GATT client too.
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == bytes([ATT_READ_RSP]) + SECRET
    assert peer.read(conn, VALUE_HANDLE) == SECRET
    assert_no_traceback(board)


def test_an_off_curve_public_key_fails_pairing_and_the_board_keeps_running(board, peer):
    start_server(board)
    just_works(peer, bonding=False)
    conn = peer.connect(board_address(board))

    # Take SMP away from Bumble's Security Manager on this peer: the PDUs
    # below are written by hand, and the answers recorded.
    smp_in: list = []
    manager = peer.device.l2cap_channel_manager
    bumble_smp = manager.fixed_channels[CID_SMP]
    peer.air.call(lambda: manager.register_fixed_channel(CID_SMP, lambda _h, pdu: smp_in.append(bytes(pdu))))

    # Pairing Request: NoInputNoOutput, no OOB, SC (no bonding), 16, no keys.
    peer.l2cap_send(conn, CID_SMP, bytes([0x01, 0x03, 0x00, 0x08, 0x10, 0x00, 0x00]))
    assert wait_until(lambda: smp_in), "no Pairing Response"
    assert smp_in[0][0] == 0x02 and smp_in[0][3] & 0x08, smp_in  # Pairing Response with SC
    smp_in.clear()

    # Pairing Public Key (1, 1): not a point of P-256.
    x = (1).to_bytes(32, "little")
    y = (1).to_bytes(32, "little")
    peer.l2cap_send(conn, CID_SMP, bytes([0x0C]) + x + y)
    assert wait_until(lambda: smp_in), "no answer to the invalid public key"
    assert smp_in == [bytes([0x05, 0x0B])], smp_in  # Pairing Failed, DHKey Check Failed

    # The board still serves the link (the characteristic declaration is
    # readable without security) and its REPL answers.
    rsp = peer.att_raw(conn, read_request(2))
    assert rsp[0] == ATT_READ_RSP, rsp
    assert "ALIVE" in board.exec("print('ALIVE')", timeout=5)
    # No key came of it: encryption would be refused.
    assert hci_commands(board.slot, HCI_LE_LTK_REQUEST_REPLY) == []
    assert peer.att_raw(conn, read_request(VALUE_HANDLE)) == err_rsp(
        ATT_READ_REQ, VALUE_HANDLE, INSUFFICIENT_AUTHENTICATION
    )

    # Bumble's Security Manager back on the channel: an honest pairing on
    # the same link succeeds, once the wait after a failed pairing is over
    # (Vol 3 Part H 2.3.6: 1 s after one failure; test_smp_methods.py
    # checks that a request before it gets Repeated Attempts).
    time.sleep(1.1)
    peer.air.call(lambda: manager.register_fixed_channel(CID_SMP, bumble_smp))
    peer.air.run(conn.pair(), 20)
    assert wait_until(lambda: conn.is_encrypted)
    assert peer.read(conn, VALUE_HANDLE) == SECRET
    assert_no_traceback(board)


# -- pairing methods chosen by smpSetConfig, both roles, against Bumble --------
#
# Bumble's SMP (an independent implementation) on the other side each time;
# the link's encryption is checked on Bumble's side (connection.is_encrypted).


class Recorder(PairingDelegate):
    """A Bumble delegate that records the number it is asked to compare and
    says yes (or `accept`)."""

    def __init__(self, io_capability, accept: bool = True) -> None:
        super().__init__(io_capability=io_capability)
        self.numbers: list[int] = []
        self.answer = accept

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.numbers.append(number)
        return self.answer

    async def confirm(self, auto: bool = False) -> bool:
        return True


def pairing_config(peer, *, mitm: bool, io) -> Recorder:
    delegate = Recorder(io)
    config = PairingConfig(sc=True, mitm=mitm, bonding=True, delegate=delegate)
    peer.air.call(lambda: setattr(peer.device, "pairing_config_factory", lambda _conn: config))
    return delegate


def central_rig(board, peer):
    """The board as central (scripts/qpy_client.py, QuecPython clientInit)
    connected to the Bumble peer serving one characteristic."""
    from test_qpy_client import Rig

    rig = Rig(board, peer)
    evs = rig.connect()
    assert (16, 0, 0, rig.peer_addr) in evs, evs
    return rig


def test_board_as_central_sc_just_works(board, peer):
    delegate = pairing_config(peer, mitm=False, io=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
    rig = central_rig(board, peer)
    assert not rig.conn.is_encrypted
    # Defaults: NoInputNoOutput, bonding + SC (reference §2.4).
    assert rig.c.call("ble.smpGetConfig()") == "(3, 9, 123456, 160)"
    pos, evs = rig.request("ble.smpStartPair(0)", 64, 63, timeout=15)
    # Event 64 announces Just Works (mode 5, no number) and pairing goes on
    # without an answer; event 63 reports the encrypted link.
    assert (64, 0, 0, 5, 0) in evs, evs
    assert (63, 0) in evs, evs
    assert wait_until(lambda: rig.conn.is_encrypted), "Bumble's link never became encrypted"
    assert delegate.numbers == []
    # Our LE Enable Encryption started it, after a Pairing Request of ours.
    assert len(hci_commands(board.slot, 0x2019)) == 1
    # An answer to the Just Works prompt later is harmless.
    assert rig.c.call("ble.smpUserConfirm(0, 1, 0)") == 0
    # Bonded (both asked for bonding): the peer is in the list.
    assert rig.c.call("ble.smpGetPairedDevInfo()") == repr([rig.peer_addr])
    assert_no_traceback(board)


def test_board_as_central_pairs_when_the_peripheral_sends_a_security_request(board, peer):
    """Vol 3 Part H 3.6.7: a Bumble peripheral asks for security (Security
    Request: bonding, SC); the board, holding no bond of it, pairs without
    any call from the script (events 64 mode 5, then 63 status 0)."""
    pairing_config(peer, mitm=False, io=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
    rig = central_rig(board, peer)
    pos = rig.c.pos()
    peer.air.call(lambda: peer.device.request_pairing(rig.conn))
    evs = rig.c.wait_ids(pos, 64, 63, timeout=15)
    assert (64, 0, 0, 5, 0) in evs and (63, 0) in evs, evs
    assert wait_until(lambda: rig.conn.is_encrypted)
    assert rig.c.call("ble.smpGetPairedDevInfo()") == repr([rig.peer_addr])
    assert_no_traceback(board)


def test_board_as_central_sc_numeric_comparison_same_number(board, peer):
    delegate = pairing_config(peer, mitm=True, io=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
    rig = central_rig(board, peer)
    # DisplayYesNo, bonding + MITM + SC.
    assert rig.c.call("ble.smpSetConfig(1, 13, 123456, 600)") == 0
    pos = rig.c.pos()
    assert rig.c.call("ble.smpStartPair(0)") == 0
    evs = rig.c.wait_ids(pos, 64, timeout=15)
    prompt = [e for e in evs if e[0] == 64][0]
    assert prompt[:4] == (64, 0, 0, 6), prompt
    # Pairing waits for our user: no encryption, no 63 yet.
    time.sleep(0.3)
    assert not rig.conn.is_encrypted
    assert not [e for e in rig.c.events(pos) if e[0] == 63]
    assert rig.c.call("ble.smpUserConfirm(0, 1, 0)") == 0
    rig.c.wait_ids(pos, 64, 63, timeout=15)
    assert (63, 0) in rig.c.events(pos)
    assert wait_until(lambda: rig.conn.is_encrypted)
    # The number Bumble's user compared is the one event 64 showed.
    assert delegate.numbers == [prompt[4]], (delegate.numbers, prompt)
    assert_no_traceback(board)


def test_board_as_central_cancelled_numeric_comparison_fails_and_drops_the_link(board, peer):
    pairing_config(peer, mitm=True, io=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
    rig = central_rig(board, peer)
    assert rig.c.call("ble.smpSetConfig(1, 13, 123456, 600)") == 0
    pos = rig.c.pos()
    assert rig.c.call("ble.smpStartPair(0)") == 0
    rig.c.wait_ids(pos, 64, timeout=15)
    assert rig.c.call("ble.smpUserConfirm(0, 0, 0)") == 0
    # Pairing Failed, Numeric Comparison Failed (0x0C) in event 63; the
    # link goes (event 17); nothing was stored.
    evs = rig.c.wait_ids(pos, 64, 63, 17, timeout=10)
    assert (63, 0x0C) in evs, evs
    assert not rig.conn.is_encrypted
    assert rig.c.call("ble.smpGetPairedDevInfo()") == "[]"


def test_board_as_peripheral_sc_numeric_comparison_same_number(board, peer):
    start_server(board)
    assert board.exec("print(ble.smpSetConfig(1, 13, 123456, 600))").strip().endswith("0")
    delegate = pairing_config(peer, mitm=True, io=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
    conn = peer.connect(board_address(board))
    mark = board.mark()
    task = peer.air.call(lambda: __import__("asyncio").ensure_future(conn.pair()))
    m = board.expect(r"PROMPT 0 6 (\d+)", 15, since=mark)
    number = int(m.group(1))
    time.sleep(0.3)
    assert not conn.is_encrypted, "encrypted before our user said yes"
    board.exec("ble.smpUserConfirm(0, 1, 0)")
    board.expect(r"EVENT 63 0", 15, since=mark)
    assert wait_until(lambda: conn.is_encrypted)
    assert wait_until(lambda: task.done())
    assert delegate.numbers == [number], (delegate.numbers, number)
    # MITM: authenticated, so the encrypted value is readable.
    assert peer.read(conn, VALUE_HANDLE) == SECRET
    assert_no_traceback(board)


def test_board_as_central_reads_after_insufficient_encryption_by_encrypting_with_the_bond(board, peer):
    """Client side of Vol 3 Part C 10.3.1.1: a read refused with Insufficient
    Encryption on a link to a bonded peer is not reported as an error: the
    board encrypts with the bond and reads once more (event 32 with the
    value, no event 37). Bumble answers the LE Long Term Key Request of the
    reconnection 0.5 s late, so the board's read reaches its server before
    the link is encrypted."""
    import asyncio

    from bumble.gatt import Characteristic, Service
    from bumble.keys import MemoryKeyStore

    from qpy_common import adv_data_with_name, peer_serve
    from test_qpy_client import Central

    locked = Characteristic(
        "FFE1",
        Characteristic.Properties.READ,
        Characteristic.READABLE | Characteristic.READ_REQUIRES_ENCRYPTION,
        b"locked-value",
    )
    peer.air.call(lambda: setattr(peer.device, "keystore", MemoryKeyStore()))
    pairing_config(peer, mitm=False, io=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
    peer_serve(peer, [Service("FFE0", [locked])], adv_data_with_name(b"locked"))
    value_handle = 16  # Bumble's GAP 1..5 and GATT 6..13, then 14 service, 15 declaration
    c = Central(board)
    addr = bytes(peer.random_address)

    def connect():
        pos = c.pos()
        n = len(peer.connections)
        assert c.call(f"ble.connect(1, {addr!r})") == 0
        c.wait_ids(pos, 16, timeout=5)
        assert wait_until(lambda: len(peer.connections) > n)
        return peer.connections[n]

    # Pair and bond first (Just Works), then hang up.
    conn = connect()
    pos = c.pos()
    assert c.call("ble.smpStartPair(0)") == 0
    c.wait_ids(pos, 63, timeout=15)
    assert (63, 0) in c.events(pos)
    assert wait_until(lambda: conn.is_encrypted)
    pos = c.pos()
    assert c.call("ble.disconnect(0)") == 0
    c.wait_ids(pos, 17, timeout=5)

    # Bumble's host now answers the LTK Request late.
    original = peer.device.get_long_term_key

    async def slow(handle, rand, ediv):
        await asyncio.sleep(0.5)
        return await original(handle, rand, ediv)

    peer.air.call(lambda: setattr(peer.device.host, "long_term_key_provider", slow))
    # Advertising stopped with the first connection: again.
    from bumble.hci import OwnAddressType

    peer.air.run(
        peer.device.start_advertising(
            advertising_data=adv_data_with_name(b"locked"),
            own_address_type=OwnAddressType.RANDOM,
            auto_restart=False,
            advertising_interval_min=50,
            advertising_interval_max=50,
        ),
        5,
    )
    conn = connect()
    pos = c.pos()
    assert c.call(f"ble.readCharaByHandle(0, {value_handle}, 0, 0)") == 0
    evs = c.wait_ids(pos, 32, timeout=10)
    assert (32, 0, len(b"locked-value"), b"locked-value") in evs, evs
    assert not [e for e in c.events(pos) if e[0] == 37], c.events(pos)
    assert conn.is_encrypted
    # The first Read Request was refused with Insufficient Encryption (0x0F):
    # the retry was needed.
    refused = [p for p in acl_att_to_board(board.slot) if p[:1] == b"\x01" and p[4:5] == b"\x0f"]
    assert refused, "the read was never refused: the test did not exercise the retry"
    assert_no_traceback(board)


def acl_att_to_board(slot) -> list[bytes]:
    from qpy_common import acl_att_from_host

    return acl_att_from_host(slot)
