"""pytest plugin: boards driven over their REPL, a virtual air, Bumble peers.

Load it with ``pytest -p mpble_harness`` (or install the package: its
``pytest11`` entry point loads it by itself). The project's own tests load
it from python-tests/conftest.py.

Option ``--board`` (or the environment variable MPBLE_BOARD):

  unix                    build/unix/micropython (MPBLE_FIRMWARE), the default
  qemu                    build/qemu-mps2/micropython (MPBLE_QEMU_FIRMWARE)
  serial:DEVICE[:BAUD]    a real board on its USB serial REPL, e.g.
                          serial:/dev/ttyUSB0 or serial:/dev/ttyACM0:115200,
                          driven through the raw REPL as mpremote does, with
                          its own controller (MPBLE_HCI means nothing to it);
                          each test starts with a soft reset.

Fixtures (all function-scoped; everything is reaped at teardown, pass or fail):

  board_kind    "unix", "qemu" or "serial" (from --board).
  board_spec    the whole --board value (e.g. "serial:/dev/ttyUSB0:115200").
  firmware      Path of the firmware of a unix/qemu --board; FAILS (never
                skips) when it is missing.
  air           an empty Air (Bumble LocalLink in a loop thread). Add to it
                with air.add_controller() -> slot, air.add_peer() -> Peer.
  make_board    factory: make_board(slot=None, *, hci=<default>, env=None,
                name=None, args=(), kind=None) -> Board. kind: "unix", "qemu"
                or "serial:DEVICE[:BAUD]" instead of --board. With a slot the
                board's MPBLE_HCI points at that slot's controller; hci=None
                unsets MPBLE_HCI; hci="tcp:127.0.0.1:1" sets it to anything.
                A serial board takes no slot (board.slot may be set by the
                test when it knows which air controller the board uses).
  board         one Board: on unix/qemu with its own controller on `air`; on
                serial the board itself.
  two_boards    (board1, board2) on the same `air` (unix/qemu only).
  peer          a powered-on Bumble Peer on the same `air` (fixed addresses).
                A real board's controller is not on that air: with
                --board serial:... the peer cannot see the board.

On failure every board's transcript, and the air's log (loop errors, Bumble
warnings, last HCI packets per controller) are attached to the report.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .air import Air
from .board import Board, SerialBoard, firmware_path, parse_board_spec

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
            report.sections.append((f"board {thing.name} transcript ({thing.state})", thing.text))
        elif isinstance(thing, Air):
            text = thing.report()
            if text:
                report.sections.append(("virtual air", text))


def pytest_addoption(parser):
    group = parser.getgroup("mpble", "mpble boards")
    group.addoption(
        "--board",
        default=None,
        metavar="KIND",
        help="board of the `board` fixtures: unix (default), qemu, or serial:DEVICE[:BAUD] "
        "for a real board on its serial REPL (also MPBLE_BOARD)",
    )


def _spec(config) -> str:
    return config.getoption("--board") or os.environ.get("MPBLE_BOARD") or "unix"


def _parse(spec: str):
    try:
        return parse_board_spec(spec)
    except ValueError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def board_spec(request) -> str:
    spec = _spec(request.config)
    _parse(spec)
    return spec


@pytest.fixture
def board_kind(board_spec) -> str:
    return _parse(board_spec)[0]


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
    if board_kind == "serial":
        pytest.fail("a serial board runs its own firmware: this test needs --board unix or qemu", pytrace=False)
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
def make_board(request, board_spec, air):
    # depends on `air` so that boards are reaped before the air closes
    boards: list[Board] = []

    def _make(slot=None, *, hci=_DEFAULT, env=None, name=None, args=(), boot_timeout=10.0, kind=None):
        kind_, device, baud = _parse(kind or board_spec)
        name = name or (slot.name if slot is not None else f"board{len(boards) + 1}")
        if kind_ == "serial":
            if slot is not None or hci is not _DEFAULT or env or args:
                pytest.fail(
                    "a serial board runs its own firmware with its own controller: "
                    "no slot, hci, env or args (this test needs --board unix or qemu)",
                    pytrace=False,
                )
            b = SerialBoard(device, baud, name=name, boot_timeout=boot_timeout)
        else:
            if hci is _DEFAULT:
                hci = slot.hci_spec if slot is not None else None
            b = Board(
                hci,
                name=name,
                firmware=_existing_firmware(kind_),
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
def board(air, make_board, board_kind):
    if board_kind == "serial":
        return make_board()
    return make_board(air.add_controller())


@pytest.fixture
def two_boards(air, make_board, board_kind):
    if board_kind == "serial":
        pytest.fail("two_boards needs --board unix or qemu (one serial board per run)", pytrace=False)
    b1 = make_board(air.add_controller())
    b2 = make_board(air.add_controller())
    return b1, b2


@pytest.fixture
def peer(air):
    p = air.add_peer()
    p.power_on()
    return p
