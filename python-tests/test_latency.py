"""Callbacks answer at once, whatever the main thread does (issue 7).

The board runs python-tests/scripts/qpy_echo_server.py (ours): its write
callback sends the bytes of every Write Command on handle 3 straight back as
a notification of handle 3. A Bumble central sends sequential 20-byte Write
Commands (Vol 3 Part F 3.4.5.3) and times each round trip, from the write
to the Handle Value Notification (3.4.7.1), at the peer. 200 in a row must
each come back within 50 ms (a margin a loaded CI machine meets; the 1 ms
goal belongs to `make bench`):

- with the board idle at its REPL prompt (the main thread blocked reading
  the terminal);
- with the board's script in one long `utime.sleep()` (what the vendor
  demos' main loops do);
- with the board's script in a busy bytecode loop (`while True: x += 1`, no
  sleep and no call that waits): the scheduled pass must run at the VM's
  own check points between bytecodes, not only when the script waits;
- with the board's main thread inside a blocking API call the whole time:
  Pycom's `GATTCCharacteristic.read()` (reference §5) of a Bumble
  peripheral that answers each Read Request only after 2 s, in a loop.
  QuecPython's `ble` has no blocking call (every call returns at once and
  its answer comes as an event), so Pycom's client calls are the ones:
  they wait in the port's idle loop (mpble_port_wait), and the echoes'
  QuecPython callbacks must run from there.

And a callback never prints inside another piece of output: while the main
script prints long lines, callbacks print their own lines; every long line
must come out whole.

The stats call also reports what the board measured itself: callback
latency from the packet's arrival to the callback's start.
"""

from __future__ import annotations

import ast
import asyncio
import re
import time

from pycom_peers import gate_responses, named_peer, pycom_central
from qpy_common import assert_no_traceback, board_address, scripts_dir

SCRIPT = scripts_dir() / "qpy_echo_server.py"
ECHOES = 200
MARGIN_S = 0.050
# A run that is plainly failing stops early (the old port took about 1 s
# per echo): this many late echoes are enough to tell.
GIVE_UP_AFTER_LATE = 8
ATT_WRITE_CMD = 0x52
ATT_HANDLE_VALUE_NTF = 0x1B
VALUE_HANDLE = 3
CCCD_HANDLE = 4


def start_echo_board(board, peer):
    out = board.exec(SCRIPT.read_text(), timeout=15)
    assert "READY" in out and "SETUP [0, 0, 0, 0, 0, 0, 0, 0, 0]" in out, out
    conn = peer.connect(board_address(board))
    # Enable notifications (Client Characteristic Configuration, Vol 3 Part G 3.3.3.3).
    peer.write(conn, CCCD_HANDLE, b"\x01\x00", with_response=True)
    return conn


def echo_round_trips(peer, conn, count: int) -> tuple[list[float], list[str]]:
    """Sends `count` sequential Write Commands; returns the round trips (s)
    and what went wrong (wrong answers, timeouts)."""

    async def run():
        rts: list[float] = []
        problems: list[str] = []
        late = 0
        for i in range(count):
            payload = i.to_bytes(4, "little") + bytes(range(16))
            t0 = time.monotonic()
            try:
                pdu = await peer.aatt_raw(
                    conn, bytes([ATT_WRITE_CMD, VALUE_HANDLE, 0]) + payload, timeout=3.0, any_pdu=True
                )
            except TimeoutError:
                problems.append(f"echo {i}: no notification within 3 s")
                break
            rt = time.monotonic() - t0
            rts.append(rt)
            if pdu != bytes([ATT_HANDLE_VALUE_NTF, VALUE_HANDLE, 0]) + payload:
                problems.append(f"echo {i}: answer {pdu.hex()}")
                break
            if rt > MARGIN_S:
                late += 1
                if late >= GIVE_UP_AFTER_LATE:
                    break
        return rts, problems

    return peer.air.run(run(), count * 3.5 + 10)


def latency_stats(board) -> dict:
    out = board.exec(
        "_s = ble.mpbleStats()\n"
        "print('LAT', [(k, _s[k]) for k in sorted(_s) if k.startswith('cb_latency')])",
        timeout=5,
    )
    m = re.search(r"LAT (\[.*\])", out)
    assert m, out
    return dict(ast.literal_eval(m.group(1)))


def stop_script(board) -> int:
    """Ctrl-C the script started with exec_nowait; returns where the
    transcript stood before (its KeyboardInterrupt traceback comes after)."""
    pos = board.mark()
    board.interrupt()
    board.wait_prompt(10)
    return pos


def assert_no_traceback_before(board, pos: int) -> None:
    assert "Traceback (most recent call last)" not in board.transcript[:pos], "the board printed a traceback"


def assert_all_fast(rts: list[float], problems: list[str]) -> None:
    ms = [round(rt * 1000, 1) for rt in rts]
    assert not problems, problems
    late = [(i, m) for i, m in enumerate(ms) if m > MARGIN_S * 1000]
    assert len(rts) == ECHOES and not late, (
        f"{len(late)} of {len(rts)} echoes took over {MARGIN_S * 1000:.0f} ms "
        f"(echo index, ms): {late[:20]}; all: {ms[:40]}"
    )


def test_echo_at_the_repl_prompt_answers_within_50_ms(board, peer):
    conn = start_echo_board(board, peer)
    # The script has returned: the board idles at its prompt.
    rts, problems = echo_round_trips(peer, conn, ECHOES)
    assert_all_fast(rts, problems)
    out = board.exec("print('ECHOED', ECHOED[0])", timeout=5)
    assert f"ECHOED {ECHOES}" in out, out
    # The board timed those callbacks too (README "Diagnostics"): each from
    # the Write Command's arrival to the callback's start, well within the
    # round trip the peer saw.
    lat = latency_stats(board)
    assert lat["cb_latency_count"] >= ECHOES, lat
    assert 0 < lat["cb_latency_p50_us"] <= lat["cb_latency_p99_us"] <= lat["cb_latency_max_us"], lat
    assert lat["cb_latency_p99_us"] < MARGIN_S * 1e6, lat
    assert_no_traceback(board)


def test_echo_during_a_long_utime_sleep_answers_within_50_ms(board, peer):
    conn = start_echo_board(board, peer)
    pos = board.exec_nowait("import utime\nprint('SLEEPING')\nutime.sleep(600)\n")
    board.expect(r"SLEEPING", 5, since=pos)
    time.sleep(0.2)
    rts, problems = echo_round_trips(peer, conn, ECHOES)
    board.interrupt()
    board.wait_prompt(10)
    assert_all_fast(rts, problems)
    out = board.exec("print('ECHOED', ECHOED[0])", timeout=5)
    assert f"ECHOED {ECHOES}" in out, out


def test_echo_during_a_busy_bytecode_loop_answers_within_50_ms(board, peer):
    conn = start_echo_board(board, peer)
    # No sleep, no I/O, no call that waits: only the VM's check points
    # (backward jumps) can run the pass of callbacks.
    pos = board.exec_nowait("X = [0]\nprint('SPINNING')\nx = 0\nwhile True:\n    x += 1\n    X[0] = x\n")
    board.expect(r"SPINNING", 5, since=pos)
    time.sleep(0.2)
    rts, problems = echo_round_trips(peer, conn, ECHOES)
    stop = stop_script(board)
    assert_all_fast(rts, problems)
    out = board.exec("print('ECHOED', ECHOED[0], 'SPUN', X[0])", timeout=5)
    m = re.search(r"ECHOED (\d+) SPUN (\d+)", out)
    assert m and int(m.group(1)) == ECHOES, out
    # The loop really ran all along (hundreds of thousands of rounds a second).
    assert int(m.group(2)) > 100000, out
    assert_no_traceback_before(board, stop)


# Each Read Response of the slow peripheral comes this late: the echoes
# all fall inside one or a few of those reads.
SLOW_READ_S = 2.0


def start_slow_read_loop(air, board):
    """The board (already the echo server) also becomes a Pycom central with
    a link to a Bumble peripheral whose Read Responses each come
    SLOW_READ_S late, and its script reads that characteristic in a loop.
    Returns the gate's list of request times and where the loop's output
    starts."""
    # QuecPython's write event names no link (its reference, event 21): the
    # echo script notifies the link of the last connection event (16), and
    # the Pycom link below would be that. Keep the echo on the central's.
    board.exec("ECHO_CONN = conn[0]", 5)
    slow, _ch = named_peer(air, "slow", b"slow value")
    pycom_central(board)
    board.exec("sc = find_connect('slow')\nch = find_char(sc, 0xFFE1)\nprint('READ', ch.read())", 30)
    board.exec("utime.sleep_ms(100)\nconn[0] = ECHO_CONN", 5)
    seen = air.call(gate_responses, slow, delay=SLOW_READ_S)
    pos = board.exec_nowait(
        "R = [0]\nprint('READING')\nwhile True:\n    assert ch.read() == b'slow value'\n    R[0] += 1\n"
    )
    board.expect(r"READING", 5, since=pos)
    return seen, pos


def test_echo_during_a_blocking_pycom_read_answers_within_50_ms(air, board, peer):
    conn = start_echo_board(board, peer)
    seen, _pos = start_slow_read_loop(air, board)
    time.sleep(0.3)
    t0 = time.monotonic()
    rts, problems = echo_round_trips(peer, conn, ECHOES)
    t1 = time.monotonic()
    stop = stop_script(board)
    assert_all_fast(rts, problems)
    # The main thread was inside a read for the whole window: the peer's
    # requests (each answered SLOW_READ_S later) cover it, but for the few
    # ms between one read's answer and the next request.
    reqs = [t for t in list(seen) if t < t1]
    assert reqs and reqs[0] < t0, (reqs, t0, t1)
    ends = [r + SLOW_READ_S for r in reqs]
    gaps = [nxt - end for end, nxt in zip(ends, reqs[1:]) if end < t1]
    assert ends[-1] >= t1 and all(g < 0.05 for g in gaps), (reqs, t0, t1)
    out = board.exec("print('ECHOED', ECHOED[0], 'READS', R[0])", timeout=5)
    assert f"ECHOED {ECHOES}" in out, out
    assert_no_traceback_before(board, stop)


def test_a_blocking_pycom_read_waits_without_spinning(air, board, peer):
    """While a blocking call waits for its peer, the main thread sleeps in
    the port's wait (woken by the reader): it does not poll in a loop."""
    start_echo_board(board, peer)
    seen, _pos = start_slow_read_loop(air, board)
    time.sleep(0.3)
    cpu0 = board.cpu_time()
    time.sleep(2 * SLOW_READ_S)
    cpu = board.cpu_time() - cpu0
    stop = stop_script(board)
    out = board.exec("print('READS', R[0])", timeout=5)
    m = re.search(r"READS (\d+)", out)
    assert m and int(m.group(1)) >= 1, out
    # Two slow reads take a few ms of CPU; a wait that spins takes nearly
    # all of the 4 s (a generous bound: a loaded machine is slower, not
    # busier).
    assert cpu < 0.5, f"{cpu:.2f} s of CPU in {2 * SLOW_READ_S:.0f} s of blocking reads"
    assert_no_traceback_before(board, stop)


# Each line is one print() of 8 MB, in 80 pieces: a write() of the pty
# blocks while the harness reads, for tens of milliseconds per line (the
# old port's signal, 10 ms after a callback was due, broke such lines).
# Two lines: with four (32 MB) the harness's pty reading fell off a cliff
# (minutes instead of a second) and the test timed out in CI trials.
LINES = 2
PIECE = 100000
PIECES = 80
# The bare-metal board's console (an emulated UART) is far slower: 200 KB
# lines already take long there.
PIECES_QEMU = 2


def test_callback_output_never_lands_inside_a_long_print(board, board_kind, peer):
    pieces = PIECES_QEMU if board_kind == "qemu" else PIECES
    body_len = PIECE * pieces
    conn = start_echo_board(board, peer)
    board.exec("SAY = True", timeout=5)
    # The main script prints long lines, each one print() call, while a
    # central keeps writing: each write's callback prints a line of its own.
    # print() writes the pieces one after the other with no bytecode
    # between them.
    code = (
        "import utime\n"
        f"PIECES = ['x' * {PIECE}] * {pieces}\n"
        "utime.sleep_ms(100)\n"
        f"for i in range({LINES}):\n"
        "    print('L%d:' % i, *PIECES, ':E', sep='')\n"
        "print('PRINTED')\n"
    )

    async def writer(stop: asyncio.Event):
        i = 0
        while not stop.is_set():
            conn.send_l2cap_pdu(4, bytes([ATT_WRITE_CMD, VALUE_HANDLE, 0]) + i.to_bytes(4, "little"))
            i += 1
            await asyncio.sleep(0.002)
        return i

    stop = asyncio.Event()
    fut = asyncio.run_coroutine_threadsafe(writer(stop), peer.air.loop)
    try:
        pos = board.exec_nowait(code)
        board.expect(r"PRINTED", 120, since=pos)
        board.wait_prompt(10)
    finally:
        peer.air.loop.call_soon_threadsafe(stop.set)
        sent = fut.result(10)
    text = board.transcript[pos:].replace("\r\n", "\n")
    cbs = re.findall(r"CB \d+ [0-9a-f]+", text)
    assert sent > 50 and len(cbs) > 10, (sent, len(cbs))
    lines = text.split("\n")
    whole = [ln for ln in lines if re.fullmatch(r"L\d+:x{%d}:E" % body_len, ln)]
    broken = [
        (ln[:60] + "..." + ln[-60:]) if len(ln) > 130 else ln
        for ln in lines
        if ("x" * 100 in ln or re.match(r"L\d+:", ln)) and ln not in whole
    ]
    assert not broken and len(whole) == LINES, (
        f"{len(whole)} of {LINES} long lines whole; broken: {broken[:5]}"
    )
    # The callbacks' own lines are whole too, and hold no piece of a long
    # line (they may follow a prompt, or the raw REPL's "OK" and end
    # markers on bare metal, which end in no newline).
    for ln in lines:
        if "CB " in ln:
            assert re.fullmatch(r"[^x]*CB \d+ [0-9a-f]{8}", ln.strip("\r")), ln[:200]
    assert_no_traceback(board)
