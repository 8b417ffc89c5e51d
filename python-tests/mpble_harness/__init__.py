"""mpble end-to-end harness: a virtual air (Bumble controllers on one LocalLink),
Bumble host peers on it, and MicroPython firmware boards driven over their REPL.

Used by python-tests/conftest.py and tools/demo.py.
"""

from .air import Air, AirError, format_addr, addr_from_lsb_bytes
from .board import BOARD_KINDS, Board, BoardError, default_board_kind, default_firmware_path, firmware_path, repo_root
from .peer import Peer

__all__ = [
    "Air",
    "BOARD_KINDS",
    "AirError",
    "Board",
    "BoardError",
    "Peer",
    "addr_from_lsb_bytes",
    "default_board_kind",
    "default_firmware_path",
    "firmware_path",
    "format_addr",
    "repo_root",
]
