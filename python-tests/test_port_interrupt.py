"""Ctrl-C stops a script stuck in a loop of callbacks (issue 6, defect 3).

A Bumble central writes to a board whose callback takes seconds per event,
while the script's main loop waits forever. One Ctrl-C must give the REPL
back: the KeyboardInterrupt raised inside the callback ends the delivery and
reaches the script (it is not printed and swallowed, which would start the
next slow callback), and the events not yet delivered stay queued: after the
interrupt they reach the (now fast) callback exactly once each, in order.

The same at the REPL prompt, where callbacks run while readline waits: a
callback that loops forever there must yield to Ctrl-C too (the terminal is
raw at the prompt, so Ctrl-C was only a byte that readline never got to).
"""

from __future__ import annotations

import re
import socket
import time

from qpy_common import board_address

WRITES = 5
# Each slow callback runs this long; the whole queue would take 5 x 4 s.
SLOW_MS = 4000

SCRIPT = """
import ble
import utime

NAME = 'mpble-stuck'
ZERO16 = bytearray(16)
GOT = []
ready = []


def slow(args):
    GOT.append(bytes(args[3]))
    t = utime.ticks_ms()
    while utime.ticks_diff(utime.ticks_ms(), t) < %d:
        utime.sleep_ms(10)


def record(args):
    GOT.append(bytes(args[3]))


def forever(args):
    GOT.append(bytes(args[3]))
    while True:
        utime.sleep_ms(10)


handler = %s


def cb(args):
    eid, status = args[0], args[1]
    if eid == 21:
        handler(args)
    elif eid == 0 and status == 0:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        r.append(ble.setAdvData(bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()))
        r.append(ble.addService(1, 1, 1, 0xFFE0, ZERO16))
        r.append(ble.addChara(1, 1, 0x04 | 0x08, 1, 0xFFE1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001 | 0x0002, 1, 0xFFE1, ZERO16, bytearray(4)))
        r.append(ble.addOrClearService(1, 0))
        r.append(ble.advStart())
        print('SETUP', r)
        ready.append(1)


print('INIT', ble.serverInit(cb))
print('START', ble.gattStart())
t0 = utime.ticks_ms()
while not ready and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('READY' if ready else 'NOT READY')
"""


def _got(board) -> list[int]:
    out = board.exec("print('GOT', [int.from_bytes(g, 'little') for g in GOT])", timeout=10)
    m = re.search(r"GOT \[([^\]]*)\]", out)
    assert m, out
    return [int(x) for x in m.group(1).split(",") if x.strip()]


def test_ctrl_c_stops_a_script_stuck_in_slow_callbacks(board, peer):
    out = board.exec(SCRIPT % (SLOW_MS, "slow"), timeout=15)
    assert "READY" in out and "SETUP [0, 0, 0, 0, 0, 0, 0, 0]" in out, out
    conn = peer.connect(board_address(board))

    # The script waits forever; callbacks run between its bytecodes. The
    # writes go only once the loop runs, so the callbacks interrupt the
    # script and not the REPL still reading the pasted loop (that case is
    # the next test's).
    pos = board.exec_nowait("print('LOOPING')\nwhile True:\n    utime.sleep_ms(20)\n")
    board.expect(r"LOOPING", 5, since=pos)

    async def writes():
        for i in range(WRITES):
            await conn.gatt_client.write_value(3, i.to_bytes(2, "little"), with_response=False)

    peer.air.run(writes(), 10)
    time.sleep(1.0)  # the first slow callback is running, the others queued
    pos = len(board.transcript)
    board.interrupt()
    t0 = time.monotonic()
    # Before the fix the interrupt only ended the first callback: the next
    # one started and the script kept running (4 s per queued event). The
    # prompt must come back at once, without the next queued callback
    # running on the way (unix runs the scheduler once more after an
    # uncaught exception).
    board.wait_prompt(2.5)
    took = time.monotonic() - t0
    assert "KeyboardInterrupt" in board.transcript[pos:], board.transcript[pos:]
    print(f"REPL back {took:.2f} s after Ctrl-C")

    # The board is usable, and the events not delivered yet are still
    # queued: an API call runs a delivery pass, each reaches the callback
    # once, in order (the first one was delivered before the interrupt).
    board.exec("handler = record\nprint('STATUS', ble.getStatus())", timeout=10)
    deadline = time.monotonic() + 5
    while True:
        got = _got(board)
        if len(got) >= WRITES or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == list(range(WRITES)), f"events lost, duplicated or reordered: {got}"

    # Later events still flow.
    peer.air.run(conn.gatt_client.write_value(3, (99).to_bytes(2, "little"), with_response=False), 5)
    deadline = time.monotonic() + 5
    while _got(board)[-1] != 99:
        assert time.monotonic() < deadline, "a write after the interrupt never reached the callback"
        time.sleep(0.1)
    assert _got(board) == list(range(WRITES)) + [99]


def test_ctrl_c_stops_a_callback_looping_forever_at_the_repl(board, peer):
    out = board.exec(SCRIPT % (SLOW_MS, "forever"), timeout=15)
    assert "READY" in out and "SETUP [0, 0, 0, 0, 0, 0, 0, 0]" in out, out
    conn = peer.connect(board_address(board))

    # No script runs: the callbacks run from the REPL's wait for a line.
    async def writes():
        for i in range(2):
            await conn.gatt_client.write_value(3, i.to_bytes(2, "little"), with_response=False)

    peer.air.run(writes(), 10)
    time.sleep(1.0)  # the first callback loops, the second event is queued
    pos = len(board.transcript)
    board.interrupt()
    # Before the fix the Ctrl-C byte waited behind the endless callback.
    board.expect("KeyboardInterrupt", 3, since=pos)

    # The REPL answers, and the queued event reaches the callback once.
    out = board.exec("handler = record\nprint('ALIVE', 6 * 7, ble.getStatus())", timeout=5)
    assert "ALIVE 42 1" in out, out
    deadline = time.monotonic() + 5
    while True:
        got = _got(board)
        if len(got) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == [0, 1], f"events lost, duplicated or reordered: {got}"

    # Ctrl-C at an idle prompt still just cancels the line.
    pos = len(board.transcript)
    board.interrupt()
    out = board.exec("print('STILL', 1 + 1)", timeout=5)
    assert "STILL 2" in out, out
    assert board.alive


def test_ctrl_c_still_stops_scripts_after_a_callback_ran_as_a_script_ended(board, peer):
    """A delivery pass that runs on the way back from a script to the
    prompt (unix runs the scheduler once more there, with the terminal
    still as the script had it) must leave the terminal as it found it:
    Ctrl-C must keep stopping the scripts after it."""
    out = board.exec(SCRIPT % (SLOW_MS, "record"), timeout=15)
    assert "READY" in out, out
    conn = peer.connect(board_address(board))
    for i in range(2):
        # utime.sleep_us() waits in usleep(), which runs no callback: the
        # write's callback runs after the script's last bytecode.
        pos = board.exec_nowait("print('NAPPING')\nutime.sleep_us(600000)\n")
        board.expect(r"NAPPING", 5, since=pos)
        peer.air.run(conn.gatt_client.write_value(3, i.to_bytes(2, "little"), with_response=False), 5)
        board.wait_prompt(5)
        assert _got(board) == list(range(i + 1))
        pos = board.exec_nowait("print('LOOPING')\nwhile True:\n    utime.sleep_ms(20)\n")
        board.expect(r"LOOPING", 5, since=pos)
        board.interrupt()
        # Before the fix that pass took ISIG off the terminal (it cleared
        # what it had set, instead of restoring what it found): Ctrl-C
        # was a byte nobody read, and the script ran on.
        board.wait_prompt(3)
        assert "KeyboardInterrupt" in board.transcript[pos:], board.transcript[pos:]


def test_ctrl_c_never_leaves_the_port_locked(make_board):
    """The unix port raises KeyboardInterrupt from its SIGINT handler at
    once, wherever the main thread is (MICROPY_ASYNC_KBD_INTR). A Ctrl-C
    that lands while the port holds one of its locks (an API call, a
    delivery pass, opening the transport) must not jump out of it: the lock
    would stay taken and the board would hang at its next call. The
    longest such hold is gattStart() connecting to a controller that does
    not answer (up to 1 s, hal_unix_tcp.c): a listening socket whose
    backlog is full drops the connection's SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        # The backlog takes one; later SYNs are dropped.
        for _ in range(2):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        board = make_board(hci=f"tcp:127.0.0.1:{port}")
        board.exec("import ble\nble.serverInit(lambda a: None)", 5)
        pos = board.exec_nowait("print('OPENING')\nprint('START', ble.gattStart())\n")
        board.expect(r"OPENING", 5, since=pos)
        time.sleep(0.3)
        board.interrupt()
        # The interrupt waits for the lock to be given back (the connect
        # times out after 1 s), then stops the script.
        board.wait_prompt(5)
        assert "KeyboardInterrupt" in board.transcript[pos:], board.transcript[pos:]
        # Before the fix the lock that opens the transport stayed taken and
        # this call hung for ever.
        out = board.exec("print('AGAIN', ble.gattStart())", timeout=5)
        assert "AGAIN -1" in out, out
    finally:
        for c in fillers:
            c.close()
        listener.close()


def test_only_ctrl_c_is_a_signal_while_a_callback_runs_at_the_repl(board, peer):
    """While a callback runs at the REPL prompt the terminal makes Ctrl-C a
    signal (ISIG), and only Ctrl-C: Ctrl-Z and Ctrl-\\ stay bytes, as in the
    REPL's raw mode, instead of stopping (SIGTSTP) or killing (SIGQUIT) the
    board."""
    out = board.exec(SCRIPT % (SLOW_MS, "forever"), timeout=15)
    assert "READY" in out, out
    conn = peer.connect(board_address(board))
    peer.air.run(conn.gatt_client.write_value(3, (0).to_bytes(2, "little"), with_response=False), 10)
    time.sleep(1.0)  # the callback loops at the prompt
    board._write(b"\x1a\x1c")
    time.sleep(0.5)
    # Before the fix Ctrl-Z stopped the process: nothing answered any more.
    pos = len(board.transcript)
    board.interrupt()
    board.expect("KeyboardInterrupt", 3, since=pos)
    out = board.exec("print('ALIVE', 6 * 7)", timeout=5)
    assert "ALIVE 42" in out, out
    assert board.alive
