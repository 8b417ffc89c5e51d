"""mpble end-to-end harness: a virtual air (Bumble controllers on one LocalLink),
Bumble host peers on it, and MicroPython boards driven over their REPL (a
firmware process on a pty, or a real board on a serial port).

Also a pytest plugin: ``pytest -p mpble_harness`` (or the ``pytest11`` entry
point when the package is installed: ``pip install ./python-tests``) adds the
``--board unix|qemu|serial:DEVICE[:BAUD]`` option and the fixtures of
``mpble_harness.plugin``. Used by python-tests/conftest.py and tools/demo.py.
"""

from .air import Air, AirError, format_addr, addr_from_lsb_bytes
from .board import (
    BOARD_KINDS,
    Board,
    BoardError,
    SerialBoard,
    default_board_kind,
    default_firmware_path,
    firmware_path,
    parse_board_spec,
    repo_root,
)
from .peer import Peer

# The plugin's hooks and fixtures, in this module's namespace so that
# `pytest -p mpble_harness` (which registers this module) finds them.
from .plugin import (  # noqa: F401
    air,
    board,
    board_kind,
    board_spec,
    firmware,
    make_board,
    peer,
    pytest_addoption,
    pytest_runtest_makereport,
    two_boards,
)

__all__ = [
    "Air",
    "BOARD_KINDS",
    "AirError",
    "Board",
    "BoardError",
    "Peer",
    "SerialBoard",
    "addr_from_lsb_bytes",
    "default_board_kind",
    "default_firmware_path",
    "firmware_path",
    "format_addr",
    "parse_board_spec",
    "repo_root",
]
