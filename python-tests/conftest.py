"""The project's end-to-end tests use the harness's pytest plugin
(mpble_harness/plugin.py: the --board option and the fixtures firmware,
board_kind, board_spec, air, make_board, board, two_boards, peer; see its
docstring). It is loaded here from this folder, so nothing needs installing;
`pip install ./python-tests` installs the same plugin for users' own tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest_plugins = ["pytester", "mpble_harness"]
