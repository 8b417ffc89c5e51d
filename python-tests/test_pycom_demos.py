"""The four Pycom seed examples (shared/demos/pycom/*.py), run UNCHANGED
(read from $DEMOS or <repo>/../shared/demos, never copied), each against
the Bumble peer it needs (issue 8, "What it must show").

The peers and the checks live in pycom_peers.py, shared with `make demo`
(tools/demo.py):

- quick_usage_heart_rate_client.py: a Bumble peripheral advertising the
  Complete Local Name "Heart Rate" with Heart Rate (0x180D: 0x2A37 notify,
  0x2A38 read) and Device Information (0x180A: four readable strings)
  after Bumble's own GAP/GATT services. An independent Bumble central
  first reads every readable characteristic; the board must print every
  service (`%x`) and each of those values, in handle order, then
  disconnect (the peer sees the link end) and leave its loop.
- gatts_advertise_and_services.py with a Bumble central: "Client
  connected"; chr1 (128-bit b'ab34567890123456', little-endian) reads
  b'\\x05' twice with "Read request on char 1" each time, then b'ABC DEF'
  (the handler's return value is the Read Response); a write prints
  "Write request with value = b'...'"; chr2 (0x11D7 in 0x04D2) reads
  b'\\x12\\x34' (big-endian, reference §9.1), then b'\\xf2', b'\\xf3' (§8.3);
  "Client disconnected".
- scan_resolve_adv_data.py against an advertiser sending a Complete Local
  Name and iBeacon manufacturer data (4c 00 02 15 ...): the name and the
  hexlified data are printed; the 20 s scan ends by itself.
- advertise_with_connection_events.py: the board advertises "LoPy";
  connect and disconnect by a Bumble central are printed once each.
"""

from __future__ import annotations

from pycom_peers import run_connection_events, run_gatts_example, run_heart_rate_client, run_scan_resolve


def test_heart_rate_client_example(air, board):
    run_heart_rate_client(air, board)


def test_gatts_example(air, board, peer):
    run_gatts_example(air, board, peer)


def test_scan_resolve_example(air, board):
    run_scan_resolve(air, board)


def test_connection_events_example(air, board, peer):
    run_connection_events(air, board, peer)
