"""Bonds in the key store (MPBLE_BONDS, one file per board, replaced
atomically: write PATH.tmp, fsync, rename).

The board is the peripheral of scripts/qpy_secure_server.py; eleven Bumble
centrals (each its own random static address) pair with it one after the
other (LE Secure Connections Just Works, bonding on both sides):

- the table holds 10 bonds (config::BONDS, the QuecPython promise): the
  11th pairing replaces the oldest bond, so smpGetPairedDevInfo() lists
  peers 2..11, oldest first, and the file holds exactly 10 records;
- a restart of the firmware (a new process, the same file) lists the same
  10 bonds in the same order;
- a crash's leftovers do not cost the other bonds: with garbage in
  PATH.tmp and the file cut short in its last record, the board starts with
  the 9 whole records; the next pairing writes a complete file again
  (PATH.tmp renamed over it, nothing left behind);
- a file that is not a bond store at all is reported and ignored (no
  bonds, BLE works).
"""

from __future__ import annotations

import time
from pathlib import Path

from qpy_common import assert_no_traceback, board_address
from test_smp_pairing import just_works, start_server, wait_until

HEADER = 8
RECORD = 59


def paired_list(board) -> list[bytes]:
    return eval(board.eval("__import__('ble').smpGetPairedDevInfo()"))


def pair_peer(board, peer) -> None:
    just_works(peer)
    mark = board.mark()
    conn = peer.connect(board_address(board), timeout=10)
    peer.air.run(conn.pair(), 20)
    assert wait_until(lambda: conn.is_encrypted), "not encrypted"
    board.expect(r"EVENT 63 0", 5, since=mark)
    peer.disconnect(conn)
    board.expect(r"EVENT 17 0", 5, since=mark)
    # Advertising again for the next central (the script started it once).
    board.exec("ble.advStart()")


def wait_file(path, size: int, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size == size):
        assert time.monotonic() < deadline, f"{path}: {path.stat().st_size if path.exists() else 'missing'} bytes, expected {size}"
        time.sleep(0.05)


def test_eleven_bonds_keep_the_newest_ten_and_survive_restarts_and_a_torn_write(air, make_board, tmp_path):
    slot = air.add_controller()
    store = tmp_path / "board.bonds"
    env = {"MPBLE_BONDS": str(store)}
    board = make_board(slot, env=env)
    start_server(board)
    peers = []
    for _ in range(11):
        p = air.add_peer()
        p.power_on()
        peers.append(p)
        pair_peer(board, p)
    addrs = [bytes(p.random_address) for p in peers]
    assert paired_list(board) == addrs[1:], "the 11th bond replaces the oldest"
    wait_file(store, HEADER + 10 * RECORD)
    assert not (tmp_path / "board.bonds.tmp").exists()
    assert_no_traceback(board)

    # A new firmware process, the same store: the same bonds, same order.
    board.close()
    board = make_board(slot, env=env)
    # Listed as soon as the module is imported, before BLE starts.
    assert paired_list(board) == addrs[1:]
    start_server(board)
    assert paired_list(board) == addrs[1:]

    # A crash's leftovers: garbage in the temporary file, and the store cut
    # in the middle of its last record.
    board.close()
    (tmp_path / "board.bonds.tmp").write_bytes(b"\xff" * 300)
    data = store.read_bytes()
    store.write_bytes(data[: len(data) - 20])
    board = make_board(slot, env=env)
    start_server(board)
    kept = paired_list(board)
    assert len(kept) == 9 and set(kept) < set(addrs[1:]), kept
    # The next pairing writes a whole file again, over the garbage.
    extra = air.add_peer()
    extra.power_on()
    pair_peer(board, extra)
    assert paired_list(board) == kept + [bytes(extra.random_address)]
    wait_file(store, HEADER + 10 * RECORD)
    assert not (tmp_path / "board.bonds.tmp").exists()
    assert_no_traceback(board)

    # Not a bond store: reported, ignored, BLE still starts.
    board.close()
    store.write_bytes(b"not a bond store at all")
    board = make_board(slot, env=env)
    start_server(board)
    assert "is not a bond store this firmware reads" in board.text
    assert paired_list(board) == []


def test_qemu_flash_store_keeps_bonds_across_a_soft_reset(air, make_board):
    """The bare-metal store (keystore_flash.c: two flash slots, sequence
    number and CRC, over the qemu board's RAM-backed page HAL): bonds made
    before a soft reset (Ctrl-D: the core and the module are torn down, RAM
    stays) are read back from the newest valid slot; saves alternate slots
    and each keeps every bond."""
    slot = air.add_controller()
    board = make_board(slot, kind="qemu")
    start_server(board)
    peers = []
    for _ in range(2):
        p = air.add_peer()
        p.power_on()
        peers.append(p)
        pair_peer(board, p)
        expected = [bytes(q.random_address) for q in peers]
        assert paired_list(board) == expected
        board.soft_reset()
        # Read back from flash when `ble` is imported again.
        assert paired_list(board) == expected, f"after soft reset {len(peers)}"
        start_server(board)
    # Forgetting them is saved too.
    assert board.eval("ble.smpCleanPairedDev()") == "0"
    time.sleep(0.3)
    board.soft_reset()
    assert paired_list(board) == []
    assert_no_traceback(board)


def test_default_store_is_next_to_the_firmware_and_empty_means_none(air, make_board, tmp_path, firmware):
    """MPBLE_BONDS unset: mpble-bonds.bin in the firmware's own directory
    (a copy of the firmware in a scratch directory here, so the build
    directory is left alone). MPBLE_BONDS="": no file at all, the bond
    lives in RAM for the process."""
    import shutil

    from mpble_harness.board import Board

    fw = tmp_path / "fw" / "micropython"
    fw.parent.mkdir()
    shutil.copy2(firmware, fw)
    slot = air.add_controller()
    board = Board(slot.hci_spec, firmware=fw, env={"MPBLE_BONDS": None}, name="default-store")
    try:
        board.slot = slot
        start_server(board)
        p = air.add_peer()
        p.power_on()
        pair_peer(board, p)
        wait_file(fw.parent / "mpble-bonds.bin", HEADER + RECORD)
    finally:
        board.close()

    # "": no store; nothing is written next to the firmware.
    slot2 = air.add_controller()
    started = time.time()
    board = make_board(slot2, env={"MPBLE_BONDS": ""})
    start_server(board)
    p = air.add_peer()
    p.power_on()
    pair_peer(board, p)
    assert paired_list(board) == [bytes(p.random_address)]
    time.sleep(0.3)
    default = Path(firmware).parent / "mpble-bonds.bin"
    assert not default.exists() or default.stat().st_mtime < started, "written to the default store"


def test_removing_a_bond_reaches_the_store_while_the_board_idles(air, make_board, tmp_path):
    """smpRemovePairedDev() and smpCleanPairedDev() are saved at once, not
    at the next BLE event: a board idle at its REPL (nothing on the air)
    that is then switched off keeps the removal."""
    slot = air.add_controller()
    store = tmp_path / "board.bonds"
    board = make_board(slot, env={"MPBLE_BONDS": str(store)})
    start_server(board)
    peers = []
    for _ in range(2):
        p = air.add_peer()
        p.power_on()
        peers.append(p)
        pair_peer(board, p)
    wait_file(store, HEADER + 2 * RECORD)
    first = bytes(peers[0].random_address)
    assert board.eval(f"ble.smpRemovePairedDev({first!r})") == "0"
    wait_file(store, HEADER + RECORD)
    assert board.eval("ble.smpCleanPairedDev()") == "0"
    wait_file(store, HEADER)
    assert_no_traceback(board)
