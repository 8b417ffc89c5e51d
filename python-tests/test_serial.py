"""The plugin's serial board kind (`--board serial:DEVICE[:BAUD]`), tested for
real: a qemu board with its REPL UART on a pseudo-terminal (QEMU's
`-serial pty`, the launcher's MPBLE_QEMU_REPL=pty) stands in for a board on
its USB serial port. The harness opens /dev/pts/N as it would /dev/ttyUSB0
(pyserial) and drives it through the raw REPL as mpremote does; it starts
nothing and sets no MPBLE_HCI: the board runs with its own controller (here
its UART1 on a controller of the virtual air, which the test knows, so that
Bumble peers on the same air can reach it).

1. The raw REPL over the serial line: the soft reset the harness does on
   open, output, errors, Ctrl-C.
2. The vendor demo ble_server.py, run unchanged on the serial board, read by
   a Bumble central: the assertions of test_qpy_server's MTU-then-read test,
   and more of that file's tests with the serial board as their board.
3. The plugin as users get it: `pip install ./python-tests` (into a
   target folder, no network), then a user's own test file, the README's
   example, run by pytest with `--board serial:/dev/pts/N` and nothing else.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpble_harness import BoardError, SerialBoard, firmware_path

import test_qpy_server as server
from qpy_common import assert_no_traceback

HERE = Path(__file__).resolve().parent


@pytest.fixture
def qemu_pty(air):
    """A qemu board whose REPL is on a new pseudo-terminal and whose
    controller is a slot of `air`: yields (device path, slot). Ended by
    closing the launcher's stdin (and killed if that fails)."""
    launcher = firmware_path("qemu")
    if not launcher.exists():
        pytest.fail(f"{launcher} not found: run `make firmware-qemu` first", pytrace=False)
    slot = air.add_controller()
    env = dict(os.environ, MPBLE_HCI=slot.hci_spec, MPBLE_QEMU_REPL="pty")
    proc = subprocess.Popen(
        [str(launcher)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        seen = b""
        deadline = time.monotonic() + 10
        while True:
            m = re.search(rb"char device redirected to (/dev/pts/\d+) \(label repl\)", seen)
            if m:
                break
            assert proc.poll() is None, f"the launcher exited: {seen!r}"
            assert time.monotonic() < deadline, f"QEMU named no pty: {seen!r}"
            r, _, _ = select.select([proc.stdout], [], [], 0.2)
            if r:
                seen += os.read(proc.stdout.fileno(), 4096)
        yield m.group(1).decode(), slot
    finally:
        try:
            proc.stdin.close()
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def serial_board(qemu_pty, make_board):
    device, slot = qemu_pty
    board = make_board(kind=f"serial:{device}", name="serial-qemu")
    board.slot = slot  # the test knows which air controller the board has
    return board


def test_serial_board_through_the_raw_repl(serial_board):
    board = serial_board
    assert isinstance(board, SerialBoard) and board.mode == "raw"
    # The harness soft-reset the board after entering the raw REPL.
    assert "soft reboot" in board.transcript
    assert board.exec("print(6*7)") == "42\n"
    assert board.exec("x = 5") == ""
    assert board.eval("x + 1") == "6"
    with pytest.raises(BoardError, match="ZeroDivisionError"):
        board.exec("1/0")
    # A larger program than one write (the raw REPL takes it in 256-byte chunks)
    code = "\n".join(f"v{i} = {i} * 3" for i in range(200)) + "\nprint(v199, v0)\n"
    assert board.exec(code, timeout=20) == "597 0\n"
    # Ctrl-C stops a running script
    pos = board.exec_nowait("n = 0\nwhile True:\n    n += 1\n")
    time.sleep(0.5)
    board.interrupt()
    board.expect("KeyboardInterrupt", 5, since=pos)
    board.wait_prompt(5)
    assert int(board.eval("n")) > 0
    # and a soft reset drops the VM's globals
    board.soft_reset()
    assert board.exec("print('x' in globals())") == "False\n"


def test_serial_board_demo_read_by_a_bumble_central(air, serial_board, peer):
    # The vendor peripheral demo, unchanged, on the serial board; a Bumble
    # central connects, exchanges MTU 247 and reads the 244-byte value in
    # one Read Request (the demo's callback lines checked on the way).
    server.test_demo_mtu_exchange_then_single_read(air, serial_board, peer)
    assert_no_traceback(serial_board)


@pytest.mark.parametrize(
    "server_test",
    [
        "test_demo_advertising_and_scan_response",
        "test_demo_connect_notification_on_handle_3",
        "test_demo_gatt_table",
        "test_demo_write_events",
        "test_demo_disconnect",
    ],
)
def test_serial_board_runs_the_server_demo_tests(serial_board, peer, server_test):
    # The server demo's own tests, unchanged, with the serial board as
    # their board: advertising bytes (seen on the air and in the HCI log),
    # the notification sent on connect, the GATT table, write events and
    # disconnect.
    getattr(server, server_test)(serial_board, peer)
    assert_no_traceback(serial_board)


USER_TEST = '''\
# test_my_board.py: a user's own test, run with
#   pytest --board serial:/dev/ttyUSB0 test_my_board.py


def test_ble_comes_up(board):
    out = board.exec("""
import ble, utime
events = []
ble.serverInit(lambda args: events.append((args[0], args[1])))
print('start', ble.gattStart())
t0 = utime.ticks_ms()
while not events and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('events', events)
""", timeout=15)
    assert "start 0" in out
    assert "events [(0, 0)]" in out      # event 0: BLE started, status 0
    assert board.eval("ble.getStatus()") == "1"    # 1: started
'''


def test_plugin_installs_with_pip_and_runs_a_users_test_on_a_serial_board(qemu_pty, tmp_path):
    device, _slot = qemu_pty
    target = tmp_path / "site"
    # A copy of the project's python-tests (its pyproject and the package):
    # setuptools writes build/ and *.egg-info beside the pyproject.
    src = tmp_path / "src"
    shutil.copytree(HERE / "mpble_harness", src / "mpble_harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "pyproject.toml", src)
    # The pyproject's own build backend from the venv (no build isolation:
    # nothing is downloaded); --no-deps: pytest, bumble, pyserial are there.
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=120,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "mpble_harness" / "plugin.py").exists()
    eps = list(target.glob("mpble_harness-*.dist-info/entry_points.txt"))
    assert eps and "[pytest11]" in eps[0].read_text(), eps

    users = tmp_path / "users"
    users.mkdir()
    (users / "test_my_board.py").write_text(USER_TEST)
    # Only the installed copy is on the path (not python-tests), no conftest:
    # the pytest11 entry point brings the plugin and its --board option.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "MPBLE_BOARD", "PYTEST_PLUGINS")}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--board", f"serial:{device}", "test_my_board.py"],
        cwd=users, capture_output=True, text=True, timeout=120, env=env,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "test_my_board.py::test_ble_comes_up PASSED" in out, out
    # and it was the installed copy that ran
    check = subprocess.run(
        [sys.executable, "-c", "import mpble_harness; print(mpble_harness.__file__)"],
        cwd=users, capture_output=True, text=True, env=env,
    )
    assert check.stdout.strip().startswith(str(target)), check.stdout + check.stderr
