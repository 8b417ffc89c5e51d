"""Self-tests of the harness: REPL driving, transcripts, Ctrl-C, reaping and
failure reports. They need only a MicroPython unix build (any; they do not use
the ble module), e.g. MPBLE_FIRMWARE=/path/to/plain/micropython."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from mpble_harness import BoardError

HERE = Path(__file__).resolve().parent


def test_exec_returns_output(make_board):
    b = make_board(hci=None)
    assert b.exec("print(6*7)") == "42\n"
    assert b.exec("for i in range(3):\n    print('line', i)\n") == "line 0\nline 1\nline 2\n"
    assert b.exec("x = 5") == ""
    assert b.eval("x + 1") == "6"


def test_environment_reaches_the_firmware(make_board, air):
    slot = air.add_controller()
    b = make_board(slot)
    assert b.eval("__import__('os').getenv('MPBLE_HCI')") == repr(slot.hci_spec)
    b2 = make_board(hci=None, env={"MPBLE_EXTRA": "x"})
    assert b2.eval("__import__('os').getenv('MPBLE_HCI')") == "None"
    assert b2.eval("__import__('os').getenv('MPBLE_EXTRA')") == "'x'"


def test_traceback_raises_with_transcript(make_board):
    b = make_board(hci=None)
    with pytest.raises(BoardError) as e:
        b.exec("print('before')\n1/0\n")
    assert "ZeroDivisionError" in str(e.value)
    assert "transcript" in str(e.value)
    # check=False returns the text instead
    assert "ZeroDivisionError" in b.exec("1/0", check=False)
    assert b.exec("print('still here')") == "still here\n"


def test_timeout_raises(make_board):
    b = make_board(hci=None)
    with pytest.raises(BoardError, match="timed out"):
        b.exec("import time\ntime.sleep(5)\n", timeout=0.5)
    b.interrupt()
    b.wait_prompt(5)
    assert b.exec("print('ok')") == "ok\n"


def test_large_paste_arrives_intact(make_board):
    b = make_board(hci=None)
    lines = [f"v{i} = {i} * 3  # {'x' * 40}" for i in range(800)]
    code = "\n".join(lines) + "\nprint(v799, v0, v400)\n"
    assert len(code) > 40000
    assert b.exec(code, timeout=60) == "2397 0 1200\n"


def test_run_file_does_not_wait_and_repl_stays_alive(make_board, tmp_path):
    script = tmp_path / "loop.py"
    # CRLF-free plain script with a loop that would run for a minute
    script.write_bytes(b"import time\nprint('demo up')\nfor i in range(600):\n    time.sleep_ms(100)\n")
    b = make_board(hci=None)
    t0 = time.monotonic()
    pos = b.run_file(script)
    assert time.monotonic() - t0 < 5
    b.expect("demo up", 5, since=pos)
    assert b.alive
    b.interrupt()
    b.expect("KeyboardInterrupt", 5, since=pos)
    assert b.exec("print('after demo')") == "after demo\n"


def test_expect_and_mark(make_board):
    b = make_board(hci=None)
    b.exec("print('alpha')")
    b.mark()
    with pytest.raises(BoardError, match="timed out"):
        b.expect("alpha", 0.3)
    b.exec_nowait("import time\ntime.sleep_ms(300)\nprint('beta', 12)\n")
    m = b.expect(r"beta (\d+)", 5)
    assert m.group(1) == "12"
    assert b.expect("alpha", 0.1, since=0)
    assert "alpha" in b.transcript and "beta 12" in b.text


def test_expect_waits_for_the_rest_of_a_line_still_being_printed(make_board):
    """A match that ends where the output so far ends is not taken while the
    board is still printing that line: a qemu board's UART sends a byte at
    a time, and CI once read "PROMPT 0 7 3" of "PROMPT 0 7 314159"."""
    b = make_board(hci=None)
    b.mark()
    # (The text is put together on the board: the paste's echo must not match.)
    b.exec_nowait("import sys, time\n_ = sys.stdout.write('PROMPT 0' + ' 7 3')\ntime.sleep_ms(150)\nprint('14159')\n")
    assert b.expect(r"PROMPT 0 7 (\d+)", 5).group(1) == "314159"
    b.wait_prompt(5)
    # Nothing more coming: the match is taken after SETTLE_S s of quiet.
    b.mark()
    b.exec_nowait("import sys\n_ = sys.stdout.write('LEVEL' + ' 42')\n")
    t0 = time.monotonic()
    assert b.expect(r"LEVEL (\d+)", 5).group(1) == "42"
    assert time.monotonic() - t0 < 5


def test_close_reaps_the_process(make_board):
    b = make_board(hci=None)
    b.exec_nowait("while True:\n    pass\n")
    pid = b.pid
    b.close()
    assert not b.alive
    assert not os.path.exists(f"/proc/{pid}") or "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    # closing twice is fine
    b.close()


def test_cpu_time_reading(make_board):
    b = make_board(hci=None)
    before = b.cpu_time()
    # A fixed amount of work, not of wall time: on a loaded machine a
    # timed loop gets only its share of a core, and the reading came out
    # below any fixed bound (flaky under load).
    b.exec("n = 0\nwhile n < 3000000:\n    n += 1\n", timeout=60)
    assert b.cpu_time() - before > 0.1


def test_missing_firmware_fails_with_make_hint(monkeypatch, tmp_path):
    from mpble_harness import Board

    with pytest.raises(BoardError, match="make firmware"):
        Board(None, firmware=tmp_path / "nope")


def test_failure_report_carries_transcripts(pytester, monkeypatch, firmware):
    """A failing test gets each board's transcript and the air log attached."""
    # The inner run copies the harness elsewhere: name our firmware for it.
    monkeypatch.setenv("MPBLE_FIRMWARE", str(firmware))
    shutil.copytree(HERE / "mpble_harness", pytester.path / "mpble_harness")
    pytester.makeconftest((HERE / "conftest.py").read_text())
    pytester.makepyfile(
        test_inner="""
def test_fails(board):
    board.exec("print('marker-' + 'in-transcript')")
    assert False, "deliberate"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert re.search(r"board board1 transcript", out), out
    assert "marker-in-transcript" in out
    assert "virtual air" in out


def test_plugin_loads_with_dash_p_and_checks_board(pytester, monkeypatch, firmware):
    """`pytest -p mpble_harness` with python-tests on the path (no conftest,
    nothing installed): the fixtures and --board are there; a bad --board
    value fails the test that asks for a board, with the expected forms."""
    monkeypatch.setenv("MPBLE_FIRMWARE", str(firmware))
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.delenv("MPBLE_BOARD", raising=False)
    pytester.makepyfile(
        test_user="""
def test_user(board, board_kind):
    assert board_kind == "unix"
    assert board.exec("print(6 * 7)") == "42\\n"
"""
    )
    result = pytester.runpytest_subprocess("-p", "mpble_harness", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "mpble_harness", "-p", "no:cacheprovider", "--board", "usb")
    result.assert_outcomes(errors=1)
    assert "expected unix, qemu or serial:DEVICE[:BAUD]" in result.stdout.str()


def test_demo_lines_may_share_a_line_with_the_other_threads_text():
    """QuecPython's client demo prints from two threads and print() writes
    its text and newline separately, so a CI run saw "[13:41:30]event handler
    running.....ble open successful." (stop 15). `line` accepts the other
    thread's text right before or after a line, and nothing else."""
    from qpy_common import line, line_re

    ok = line("ble open successful.")
    assert ok.search("task.\r\n[13:41:30]event handler running.....ble open successful.\r\n\r\n")
    assert ok.search("ble open successful.[13:41:30]event handler running.....\r\n")
    assert ok.search("[13:41:35] BLE Client running, count = 105......ble open successful.\r\n")
    assert ok.search(">>> ble open successful.\r\n") and ok.search(">OKble open successful.\n")
    for bad in ("xble open successful.\r\n", "ble open successful.x\r\n", "running.....ble open successful.\r\n"):
        assert not ok.search(bad), bad
    m = line_re(r"pin_code = (\d+)").search("[10:00:05]event handler running.....pin_code = 123456\r\n")
    assert m and m.group(1) == "123456"
