"""pytest fixtures for mpble end-to-end tests.

Fixtures (all function-scoped; everything is reaped at teardown, pass or fail):

  firmware      Path of the firmware of the default board kind (--board unix|qemu,
                or MPBLE_BOARD; unix by default): build/unix/micropython
                (MPBLE_FIRMWARE) or build/qemu-mps2/micropython
                (MPBLE_QEMU_FIRMWARE); FAILS (never skips) when it is missing.
  air           an empty Air (Bumble LocalLink in a loop thread). Add to it with
                air.add_controller() -> slot, air.add_peer() -> Peer.
  make_board    factory: make_board(slot=None, *, hci=<default>, env=None,
                name=None, args=(), kind=None) -> Board; kind "unix" or
                "qemu" picks that firmware instead of the default. With a slot the board's MPBLE_HCI
                points at that slot's controller; hci=None unsets MPBLE_HCI;
                hci="tcp:127.0.0.1:1" sets it to anything. board.slot is the slot
                (or None).
  board         one Board on `air`, MPBLE_HCI -> its own controller.
  two_boards    (board1, board2) on the same `air`, distinct controllers.
  peer          a powered-on Bumble Peer on the same `air` (fixed addresses).

On failure every board's transcript, and the air's log (loop errors, Bumble
warnings, last HCI packets per controller) are attached to the report.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mpble_harness import BOARD_KINDS, Air, Board, firmware_path  # noqa: E402

pytest_plugins = ["pytester"]

_THINGS = pytest.StashKey[list]()


def _things(request) -> list:
    node = request.node
    if _THINGS not in node.stash:
        node.stash[_THINGS] = []
    return node.stash[_THINGS]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for thing in item.stash.get(_THINGS, []):
        if isinstance(thing, Board):
            rc = thing.proc.poll()
            state = "running" if rc is None else f"exit {rc}"
            report.sections.append(
                (f"board {thing.name} transcript ({state}, MPBLE_HCI={thing.hci})", thing.text)
            )
        elif isinstance(thing, Air):
            text = thing.report()
            if text:
                report.sections.append(("virtual air", text))


def pytest_addoption(parser):
    parser.addoption(
        "--board",
        choices=BOARD_KINDS,
        default=None,
        help="board kind of the `board` fixtures: unix (default) or qemu (also MPBLE_BOARD)",
    )


@pytest.fixture
def board_kind(request) -> str:
    kind = request.config.getoption("--board") or os.environ.get("MPBLE_BOARD") or "unix"
    if kind not in BOARD_KINDS:
        pytest.fail(f"MPBLE_BOARD={kind!r}: expected one of {BOARD_KINDS}", pytrace=False)
    return kind


def _existing_firmware(kind: str) -> Path:
    path = firmware_path(kind)
    if not path.exists():
        target = "firmware-qemu" if kind == "qemu" else "firmware"
        pytest.fail(
            f"firmware {path} not found: run `make {target}` first "
            f"(or point MPBLE_{'QEMU_' if kind == 'qemu' else ''}FIRMWARE at a built firmware)",
            pytrace=False,
        )
    return path


@pytest.fixture
def firmware(board_kind) -> Path:
    return _existing_firmware(board_kind)


@pytest.fixture
def air(request):
    a = Air()
    _things(request).append(a)
    try:
        yield a
    finally:
        a.close()


_DEFAULT = object()


@pytest.fixture
def make_board(request, firmware, air):
    # depends on `air` so that boards are reaped before the air closes
    boards: list[Board] = []

    def _make(slot=None, *, hci=_DEFAULT, env=None, name=None, args=(), boot_timeout=10.0, kind=None):
        if hci is _DEFAULT:
            hci = slot.hci_spec if slot is not None else None
        b = Board(
            hci,
            name=name or (slot.name if slot is not None else f"board{len(boards) + 1}"),
            firmware=_existing_firmware(kind) if kind else firmware,
            env=env,
            args=args,
            boot_timeout=boot_timeout,
        )
        b.slot = slot
        boards.append(b)
        _things(request).append(b)
        return b

    try:
        yield _make
    finally:
        for b in boards:
            b.close()


@pytest.fixture
def board(air, make_board):
    return make_board(air.add_controller())


@pytest.fixture
def two_boards(air, make_board):
    b1 = make_board(air.add_controller())
    b2 = make_board(air.add_controller())
    return b1, b2


@pytest.fixture
def peer(air):
    p = air.add_peer()
    p.power_on()
    return p
