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
