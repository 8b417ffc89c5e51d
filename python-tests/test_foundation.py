"""Foundation end-to-end tests: a board comes up on the virtual air.

Every test here drives the real firmware over its REPL; the ble-specific ones
need the mpble firmware (`make firmware`).
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from mpble_harness import format_addr

# A callback that prints every QuecPython event tuple (event_id, status, ...)
# with the ms since T0, so tests can check order and latency.
CB_PRELUDE = """\
import ble, utime
T0 = utime.ticks_ms()
def cb(args):
    print('EV', args[0], args[1], utime.ticks_diff(utime.ticks_ms(), T0))
"""

EV_RE = r"EV (-?\d+) (-?\d+) (\d+)"


def start_ble(board, timeout=5.0):
    """serverInit + gattStart on `board`; wait for event 0 status 0."""
    board.mark()
    out = board.exec(
        CB_PRELUDE
        + "print('INIT', ble.serverInit(cb))\n"
        + "print('START', ble.gattStart())\n"
    )
    assert "INIT 0" in out, out
    assert "START 0" in out, out
    m = board.expect(r"EV 0 (-?\d+) ", timeout)
    assert m.group(1) == "0", f"BLE start status {m.group(1)}, expected 0"


def board_addr(board) -> bytes:
    out = board.exec("a = ble.getPublicAddr()\nprint('ADDR', type(a).__name__, list(a) if type(a) is bytes else a)")
    m = re.search(r"ADDR (\w+) (.*)", out)
    assert m, out
    assert m.group(1) == "bytes", f"getPublicAddr returned {m.group(1)}: {m.group(2)}"
    values = [int(x) for x in re.findall(r"\d+", m.group(2))]
    assert len(values) == 6, f"getPublicAddr gave {len(values)} bytes: {m.group(2)}"
    return bytes(values)


# -- addresses -------------------------------------------------------------------


def test_public_addr_is_the_controllers_address(board):
    start_ble(board)
    addr = board_addr(board)
    # getPublicAddr is LSB-first (HCI order); bytes(bumble Address) is too.
    expected = bytes(board.slot.address)
    assert addr == expected, (
        f"board says {format_addr(addr)} (raw {addr.hex()}), "
        f"its controller is {board.slot.address} (raw {expected.hex()})"
    )
    # and the human-readable form matches Bumble's
    assert format_addr(addr) == str(board.slot.address).split("/")[0]


def test_two_boards_have_distinct_addresses(two_boards):
    b1, b2 = two_boards
    start_ble(b1)
    start_ble(b2)
    a1, a2 = board_addr(b1), board_addr(b2)
    assert a1 == bytes(b1.slot.address)
    assert a2 == bytes(b2.slot.address)
    assert a1 != a2


# -- start / stop events through the scheduler ----------------------------------------


def test_start_event_arrives_while_script_sleeps(board):
    pos = board.exec_nowait(
        CB_PRELUDE
        + "print('INIT', ble.serverInit(cb))\n"
        + "print('START', ble.gattStart())\n"
        + "utime.sleep(3)\n"
        + "print('slept', utime.ticks_diff(utime.ticks_ms(), T0))\n"
    )
    start = board.expect(r"START (-?\d+)", 5, since=pos)
    assert start.group(1) == "0", "gattStart() did not return 0"
    ev = board.expect(EV_RE, 5, since=pos)
    slept = board.expect(r"slept (\d+)", 8, since=pos)
    assert (ev.group(1), ev.group(2)) == ("0", "0"), f"first event {ev.group(0)!r}, expected (0, 0)"
    # The callback ran through the scheduler DURING utime.sleep(3), not after.
    assert ev.start() < slept.start(), "event 0 was only delivered after the sleep ended"
    assert int(ev.group(3)) < 2000, f"event 0 took {ev.group(3)} ms"
    assert int(slept.group(1)) >= 2900
    board.wait_prompt(5)

    board.mark()
    out = board.exec("print('STOP', ble.gattStop())\nutime.sleep_ms(1500)\n")
    assert "STOP 0" in out, out
    stop_ev = board.expect(r"EV 1 (-?\d+) ", 3)
    assert stop_ev.group(1) == "0", f"gattStop event status {stop_ev.group(1)}"


# -- the peer fixture and the air work (no firmware involved) --------------------------


def test_peer_sees_and_talks_to_another_peer(air, peer):
    other = air.add_peer()
    other.power_on()
    adv = bytes([2, 0x01, 0x06]) + bytes([6, 0x09]) + b"Other"
    rsp = bytes([5, 0xFF, 0x34, 0x12, 0xAB, 0xCD])
    other.advertise(adv, rsp)
    reports = peer.scan(1.5)
    mine = [r for r in reports if r.address == other.random_address]
    assert mine, f"no advertisement from {other.random_address}: {reports}"
    assert any(r.data == adv and not r.is_scan_response and r.is_connectable for r in mine)
    # Active scanning yields scan-response reports too (Bumble's controller
    # puts the ADV data in them, see VIRTUAL-AIR.md).
    assert any(r.is_scan_response for r in mine)

    conn = peer.connect(other.random_address)
    assert peer.exchange_mtu(conn, 185) == 185
    name_char = peer.find_characteristic(conn, "2A00")
    assert peer.read(conn, name_char.handle) == b"peer2"
    # Raw ATT: Read Request on a handle that does not exist -> Error Response
    # (Vol 3 Part F 3.4.1.1): opcode 0x01, req 0x0A, handle 0x00FF, 0x01.
    assert peer.att_raw(conn, bytes([0x0A, 0xFF, 0x00])) == bytes([0x01, 0x0A, 0xFF, 0x00, 0x01])
    assert not air.errors, air.errors


# -- failure paths -------------------------------------------------------------------


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


class SilentServer:
    """A TCP server that accepts connections and never says anything."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.received = bytearray()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
                c.settimeout(0.1)
                self.conns.append(c)
            except (socket.timeout, OSError):
                pass
            for c in list(self.conns):
                try:
                    data = c.recv(4096)
                    if data:
                        self.received += data
                except (socket.timeout, OSError):
                    pass

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


def _check_repl_alive(board):
    assert board.exec("print(1+1)").strip() == "2"


def _gatt_start_fails_fast(board):
    board.mark()
    out = board.exec(
        CB_PRELUDE
        + "print('INIT', ble.serverInit(cb))\n"
        + "r = ble.gattStart()\n"
        + "print('START', r, utime.ticks_diff(utime.ticks_ms(), T0))\n"
        + "utime.sleep_ms(500)\n",
        timeout=10,
    )
    m = re.search(r"START (-?\d+) (\d+)", out)
    assert m, out
    assert m.group(1) == "-1", f"gattStart() returned {m.group(1)} without a controller"
    assert int(m.group(2)) < 2000, f"gattStart() took {m.group(2)} ms to fail"
    return out


def test_gatt_start_without_mpble_hci(make_board):
    board = make_board(hci=None)
    out = _gatt_start_fails_fast(board)
    assert "MPBLE_HCI" in board.transcript[board._mark :], "no message naming MPBLE_HCI"
    assert not re.search(r"EV 0 0 ", out), "event 0 status 0 without a controller"
    _check_repl_alive(board)


def test_gatt_start_with_closed_port(make_board):
    board = make_board(hci=f"tcp:127.0.0.1:{_free_port()}")
    _gatt_start_fails_fast(board)
    assert "MPBLE_HCI" in board.transcript[board._mark :], "no message naming MPBLE_HCI"
    _check_repl_alive(board)


def test_gatt_start_with_silent_controller(make_board):
    server = SilentServer()
    try:
        board = make_board(hci=f"tcp:127.0.0.1:{server.port}")
        board.mark()
        out = board.exec(
            CB_PRELUDE
            + "print('INIT', ble.serverInit(cb))\n"
            + "r = ble.gattStart()\n"
            + "print('START', r, utime.ticks_diff(utime.ticks_ms(), T0))\n"
            + "utime.sleep_ms(2500)\n",
            timeout=15,
        )
        m = re.search(r"START (-?\d+) (\d+)", out)
        assert m, out
        if m.group(1) == "-1":
            assert int(m.group(2)) < 2000, f"gattStart() took {m.group(2)} ms to fail"
        else:
            assert m.group(1) == "0", out
            ev = re.search(EV_RE, out)
            assert ev, "no event 0 within 2.5 s from a controller that never answers"
            assert ev.group(1) == "0", ev.group(0)
            assert ev.group(2) != "0", "event 0 reported success with a silent controller"
            assert int(ev.group(3)) < 2000, f"failure reported after {ev.group(3)} ms"
        assert "MPBLE_HCI" in board.transcript[board._mark :], "no message naming MPBLE_HCI"
        # It did try: an HCI_Reset command (01 03 0c 00) went out.
        assert bytes.fromhex("01030c00") in bytes(server.received), server.received.hex()
        _check_repl_alive(board)
    finally:
        server.close()


@pytest.mark.parametrize("where", ["unset", "closed-port"])
def test_pycom_bluetooth_without_controller_raises(make_board, where):
    hci = None if where == "unset" else f"tcp:127.0.0.1:{_free_port()}"
    board = make_board(hci=hci)
    out = board.exec(
        "import utime\n"
        "from network import Bluetooth\n"
        "t0 = utime.ticks_ms()\n"
        "try:\n"
        "    bt = Bluetooth()\n"
        "    print('NO ERROR')\n"
        "except OSError as e:\n"
        "    print('OSERR', utime.ticks_diff(utime.ticks_ms(), t0), repr(e))\n",
        timeout=10,
    )
    m = re.search(r"OSERR (\d+) (.*)", out)
    assert m, f"Bluetooth() did not raise OSError without a controller: {out!r}"
    assert int(m.group(1)) < 2000, f"Bluetooth() took {m.group(1)} ms to fail"
    assert "MPBLE_HCI" in m.group(2), f"the OSError does not name MPBLE_HCI: {m.group(2)}"
    _check_repl_alive(board)


# -- idle CPU ---------------------------------------------------------------------------


def test_idle_cpu_with_ble_up(board):
    start_ble(board)
    before = board.cpu_time()
    t0 = time.monotonic()
    board.exec("utime.sleep(3)", timeout=10)
    wall = time.monotonic() - t0
    used = board.cpu_time() - before
    assert wall >= 2.9
    assert used < 0.3, f"firmware used {used:.2f} s CPU sleeping 3 s with BLE up (busy polling?)"

    # Sitting at the REPL prompt is idle too.
    before = board.cpu_time()
    time.sleep(2)
    used = board.cpu_time() - before
    assert used < 0.2, f"firmware used {used:.2f} s CPU idling 2 s at the prompt"
