"""The Bumble peers the Pycom seed examples need, and each example's run
with its checks, shared by python-tests/test_pycom_demos.py and
tools/demo.py (`make demo`).

The examples are the vendor's, read from $DEMOS/pycom (or
<repo>/../shared/demos/pycom) and run UNCHANGED; nothing here copies them.

Each `run_*` function drives one example on a board against its peer and
checks what the issue asks it to show; a failed check raises
AssertionError (or the harness's BoardError, a subclass), so the tests
report it and `make demo` prints it as that example's failure. Each returns
the transcript position where the example's output starts.

Expected board output is built from the example's own format strings
applied to the values the peer holds (Python's bytes repr is MicroPython's).

Pycom facts used (../shared/reference/pycom-bluetooth-api.md):
- UUIDs (§9.4): ints for 16/32-bit, 16 bytes for 128-bit, given byte for
  byte as the little-endian UUID: b'1234567890123456' is
  UUID.from_bytes(b'1234567890123456') for Bumble (bytes LSB first).
- GATTS ints (§9.1, §8.3): a characteristic's initial int value and a read
  handler's returned int are big-endian, 1 byte up to 0xFF, 2 up to 0xFFFF.
- The heart-rate example prints `%x` of int service UUIDs and
  `'char {} value = {}'.format(char.uuid(), char.read())` per readable
  characteristic (PROP_READ).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Optional

from bumble.core import UUID
from bumble.gatt import Characteristic, Service
from bumble.hci import Address, OwnAddressType

from qpy_common import (
    HCI_LE_SET_EXTENDED_SCAN_RESPONSE_DATA,
    HCI_LE_SET_SCAN_RESPONSE_DATA,
    adv_data_with_name,
    assert_no_traceback,
    board_address,
    demos_dir,
    hci_commands,
    lines_in_order,
    peer_serve,
)

DEMO_NAMES = (
    "quick_usage_heart_rate_client.py",
    "gatts_advertise_and_services.py",
    "scan_resolve_adv_data.py",
    "advertise_with_connection_events.py",
)


def line(text: str) -> re.Pattern:
    """A regex matching `text` as one whole output line. Pycom callbacks
    often print while the REPL is idle, i.e. right after its '>>> ' prompt
    (the seed examples return to the REPL and their handlers print there),
    so the prompt may precede the text. On the raw REPL (bare-metal
    boards) a script's first line follows the REPL's '>OK', and a callback
    at the idle raw REPL prints after its '\\x04>' prompt."""
    return re.compile(r"(?m)(?:^|(?<=>>> )|(?<=>OK)|(?<=\x04>))" + re.escape(text) + r"\r?$")


def pycom_demo_path(name: str) -> Path:
    path = demos_dir() / "pycom" / name
    assert path.exists(), f"vendor demo {path} not found (set DEMOS to the demos folder)"
    return path


def pycom_uuid(uuid: UUID):
    """A Bumble UUID as Pycom's uuid() returns it (§9.4): int for 16/32-bit,
    the 16 little-endian bytes for 128-bit."""
    raw = uuid.to_bytes()
    return int.from_bytes(raw, "little") if len(raw) in (2, 4) else raw


def wait_until(cond, timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(step)


# -- Heart Rate peripheral (quick_usage_heart_rate_client.py) ------------------------------

HEART_RATE_NAME = b"Heart Rate"
# Heart Rate Measurement: flags 0 (UINT8 bpm), 72 bpm. Notify only: not
# readable, so the example must not print it.
HR_MEASUREMENT = bytes([0x00, 72])
BODY_SENSOR_LOCATION = b"\x01"  # Chest (Heart Rate Service 3.2)
DEVICE_INFORMATION = [
    ("2A29", b"mpble test peers"),  # Manufacturer Name String
    ("2A24", b"HRM-1"),  # Model Number String
    ("2A25", b"SN-0042"),  # Serial Number String
    ("2A26", b"fw 1.2.3"),  # Firmware Revision String
]


def heart_rate_services() -> list:
    """Heart Rate (0x180D: measurement 0x2A37 notify, body sensor location
    0x2A38 read) and Device Information (0x180A, readable strings)."""
    P = Characteristic.Properties
    hr = Service(
        "180D",
        [
            Characteristic("2A37", P.NOTIFY, 0, HR_MEASUREMENT),
            Characteristic("2A38", P.READ, Characteristic.READABLE, BODY_SENSOR_LOCATION),
        ],
    )
    dis = Service("180A", [Characteristic(u, P.READ, Characteristic.READABLE, v) for u, v in DEVICE_INFORMATION])
    return [hr, dis]


def heart_rate_peer(air, interval_ms: float = 100.0):
    """A powered-on Bumble peripheral named "Heart Rate" (its GAP Device
    Name too) advertising the Complete Local Name from its random static
    address, serving heart_rate_services() after Bumble's own GAP and GATT
    services."""
    peer = air.add_peer(name=HEART_RATE_NAME.decode())
    peer.power_on()
    peer_serve(peer, air.call(heart_rate_services), adv_data_with_name(HEART_RATE_NAME), interval_ms=interval_ms)
    return peer


def readable_table(air, target, address: Optional[Address] = None) -> list:
    """What an independent Bumble central reads from `target` (a Peer that
    advertises): [(service UUID as Pycom gives it, [(char UUID, value), ...
    for each characteristic with READ]), ...] in handle order. The reader
    connects, reads everything, disconnects; the target advertises again."""
    reader = air.add_peer(name="reader")
    reader.power_on()
    conn = reader.connect(address or Address(str(target.random_address), Address.RANDOM_DEVICE_ADDRESS))
    table = []
    for service, chars in reader.discover(conn):
        entries = []
        for ch, _descs in chars:
            if ch.properties & Characteristic.Properties.READ:
                entries.append((pycom_uuid(ch.uuid), reader.read(conn, ch.handle)))
        table.append((pycom_uuid(service.uuid), entries))
    reader.disconnect(conn)
    wait_until(lambda: not target.device.connections, 5, "the reader's link to end on the target")
    return table


def readable_lines(table: list) -> list:
    """The heart-rate example's lines for a readable_table()."""
    out = []
    for suuid, chars in table:
        if type(suuid) is bytes:
            out.append(line("Reading chars from service = {}".format(suuid)))
        else:
            out.append(line("Reading chars from service = %x" % suuid))
        for cuuid, value in chars:
            out.append(line("char {} value = {}".format(cuuid, value)))
    return out


def run_heart_rate_client(air, board, peer=None) -> int:
    """quick_usage_heart_rate_client.py against the Heart Rate peer: every
    service and every readable characteristic's value is printed (exactly
    as an independent Bumble central reads them), then the board
    disconnects (the peer sees it) and the example returns."""
    peer = peer or heart_rate_peer(air)
    table = readable_table(air, peer)
    # The values the example must print include the test's own.
    flat = {u: v for _s, chars in table for u, v in chars}
    assert flat.get(0x2A38) == BODY_SENSOR_LOCATION, table
    for u, v in DEVICE_INFORMATION:
        assert flat.get(int(u, 16)) == v, table
    assert [s for s, _c in table][-2:] == [0x180D, 0x180A], table
    # the reader left; the peer advertises again for the board
    peer.advertise(adv_data_with_name(HEART_RATE_NAME), adv_data_with_name(HEART_RATE_NAME))
    before = len(peer.connections)

    pos = board.run_file(pycom_demo_path("quick_usage_heart_rate_client.py"))
    lines_in_order(board, readable_lines(table), pos, timeout=20)
    board.wait_prompt(10)
    out = board.transcript[pos:].replace("\r\n", "\n")
    assert "Error while connecting or reading from the BLE device" not in out, out
    assert out.count("Reading chars from service") == len(table), out
    assert len(peer.connections) == before + 1, "the board connected once"
    conn = peer.connections[before]
    assert str(conn.peer_address).split("/")[0] == board_address(board)
    wait_until(lambda: conn.handle not in peer.device.connections, 5, "the peer to see the board disconnect")
    assert_no_traceback(board)
    return pos


# -- GATT server example (gatts_advertise_and_services.py) -----------------------------------

SRV1_UUID = UUID.from_bytes(b"1234567890123456")
CHR1_UUID = UUID.from_bytes(b"ab34567890123456")
SRV2_UUID = UUID.from_16_bits(1234)
CHR2_UUID = UUID.from_16_bits(4567)


def find_chr(discovered: list, service_uuid: UUID, char_uuid: UUID):
    for service, chars in discovered:
        if service.uuid == service_uuid:
            for ch, _descs in chars:
                if ch.uuid == char_uuid:
                    return ch
            raise AssertionError(f"service {service_uuid} has no characteristic {char_uuid}: {[c.uuid for c, _ in chars]}")
    raise AssertionError(f"no service {service_uuid}: {[s.uuid for s, _ in discovered]}")


def count_after(board, text: str, pos: int) -> int:
    return board.transcript[pos:].count(text)


def run_gatts_example(air, board, central) -> int:
    """gatts_advertise_and_services.py with a Bumble central."""
    pos = board.run_file(pycom_demo_path("gatts_advertise_and_services.py"))
    board.wait_prompt(10)
    assert_no_traceback(board)
    check_lopy_advertising(board, central)
    conn = central.connect(board_address(board))
    board.expect(line("Client connected"), 5, since=pos)
    found = central.discover(conn)
    chr1 = find_chr(found, SRV1_UUID, CHR1_UUID)
    chr2 = find_chr(found, SRV2_UUID, CHR2_UUID)

    # chr1: value=5 (1 byte); the handler prints on the first two reads
    # (the stored value is the reply) and returns 'ABC DEF' from the third.
    for n in (1, 2):
        got = central.read(conn, chr1.handle)
        assert got == b"\x05", f"read {n} of chr1: {got!r}"
        wait_until(lambda: count_after(board, "Read request on char 1", pos) == n, 5, f"'Read request on char 1' printed {n} times")
    got = central.read(conn, chr1.handle)
    assert got == b"ABC DEF", f"read 3 of chr1: {got!r}"
    central.write(conn, chr1.handle, b"mpble!")
    board.expect(line("Write request with value = b'mpble!'"), 5, since=pos)
    assert count_after(board, "Read request on char 1", pos) == 2

    # chr2: value=0x1234 -> big-endian 12 34 (§9.1); its handler returns
    # nothing on the first read, then 0xF2, 0xF3 (one byte each, §8.3).
    got = [central.read(conn, chr2.handle) for _ in range(3)]
    assert got == [b"\x12\x34", b"\xf2", b"\xf3"], got

    central.disconnect(conn)
    board.expect(line("Client disconnected"), 5, since=pos)
    assert count_after(board, "Client connected", pos) == 1
    assert_no_traceback(board)
    return pos


# -- advertiser with iBeacon data (scan_resolve_adv_data.py) ---------------------------------

BEACON_NAME = b"iB"
# Apple iBeacon: company 0x004C (LE), type 0x02, length 0x15, proximity UUID
# (16), major, minor (big-endian), measured power.
IBEACON = (
    bytes([0x4C, 0x00, 0x02, 0x15])
    + bytes.fromhex("e2c56db5dffb48d2b060d0f5a71096e0")
    + (0x0102).to_bytes(2, "big")
    + (0x0304).to_bytes(2, "big")
    + bytes([0xC5])
)
# Complete Local Name then Manufacturer Specific Data: 4 + 27 = 31 bytes,
# all in the advertising PDU (Bumble's controller sends the advertising
# data in scan responses too, python-tests/README.md).
BEACON_ADV = bytes([len(BEACON_NAME) + 1, 0x09]) + BEACON_NAME + bytes([len(IBEACON) + 1, 0xFF]) + IBEACON
assert len(BEACON_ADV) == 31


def beacon_peer(air, interval_ms: float = 200.0):
    peer = air.add_peer(name="beacon")
    peer.power_on()

    async def _go():
        await peer.device.start_advertising(
            advertising_data=BEACON_ADV,
            own_address_type=OwnAddressType.RANDOM,
            auto_restart=False,
            advertising_interval_min=interval_ms,
            advertising_interval_max=interval_ms,
        )

    air.run(_go(), 5)
    return peer


def run_scan_resolve(air, board, peer=None, scan_seconds: float = 20.0) -> int:
    """scan_resolve_adv_data.py against the iBeacon advertiser: it prints
    the name and the hexlified manufacturer data, and ends when its 20 s
    scan does."""
    peer = peer or beacon_peer(air)
    pos = board.run_file(pycom_demo_path("scan_resolve_adv_data.py"))
    lines_in_order(board, [line(BEACON_NAME.decode()), line(repr(IBEACON.hex().encode()))], pos, timeout=10)
    board.wait_prompt(scan_seconds + 10)
    out = board.transcript[pos:].replace("\r\n", "\n")
    assert out.count(IBEACON.hex()) >= 2, "more than one report of the beacon in 20 s"
    assert_no_traceback(board)
    return pos


# -- advertise_with_connection_events.py -----------------------------------------------------


def last_scan_response(slot) -> bytes:
    """The scan response data of the board's last LE Set Scan Response
    Data command (legacy, Vol 4 Part E 7.8.8, or extended, 7.8.55)."""
    legacy = [p[1 : 1 + p[0]] for p in hci_commands(slot, HCI_LE_SET_SCAN_RESPONSE_DATA) if p]
    extended = [p[4 : 4 + p[3]] for p in hci_commands(slot, HCI_LE_SET_EXTENDED_SCAN_RESPONSE_DATA) if len(p) >= 4]
    got = legacy or extended
    assert got, "the board never set scan response data"
    return got[-1]


def check_lopy_advertising(board, central) -> None:
    """set_advertisement(name='LoPy', service_uuid=b'1234567890123456'):
    the name is in the advertising data (heard over the air), the 16 bytes
    as a 128-bit UUID list (AD 0x06/0x07) in the scan response, byte for
    byte (reference §2.8, §9.4)."""
    report = central.find(board_address(board), timeout=5)
    assert b"\x05\x09LoPy" in report.data, f"the board advertises the name LoPy: {report.data.hex()}"
    rsp = last_scan_response(board.slot)
    assert bytes([17, 0x07]) + b"1234567890123456" in rsp or bytes([17, 0x06]) + b"1234567890123456" in rsp, rsp.hex()


def run_connection_events(air, board, central) -> int:
    pos = board.run_file(pycom_demo_path("advertise_with_connection_events.py"))
    board.wait_prompt(10)
    assert_no_traceback(board)
    check_lopy_advertising(board, central)
    conn = central.connect(board_address(board))
    board.expect(line("Client connected"), 5, since=pos)
    central.disconnect(conn)
    board.expect(line("Client disconnected"), 5, since=pos)
    assert count_after(board, "Client connected", pos) == 1
    assert count_after(board, "Client disconnected", pos) == 1
    assert_no_traceback(board)
    return pos


# -- a board as Pycom central (tests' own code, not a vendor example) -------------------------

# Defines find_connect(name, timeout_ms) on the board: scan until a report's
# Complete Local Name is `name`, then bt.connect(adv.mac, timeout=5000).
PYCOM_CENTRAL = """\
from network import Bluetooth
import time
bt = Bluetooth()
def find_adv(name, timeout_ms=10000):
    bt.start_scan(-1)
    t0 = time.ticks_ms()
    try:
        while time.ticks_diff(time.ticks_ms(), t0) < timeout_ms:
            a = bt.get_adv()
            if a and bt.resolve_adv_data(a.data, Bluetooth.ADV_NAME_CMPL) == name:
                return a
            time.sleep_ms(10)
    finally:
        if bt.isscanning():
            bt.stop_scan()
    raise OSError('no advertisement named ' + name)
def find_connect(name, timeout_ms=10000):
    a = find_adv(name, timeout_ms)
    return bt.connect(a.mac, timeout=5000)
def find_char(conn, uuid):
    for s in conn.services():
        for c in s.characteristics():
            if c.uuid() == uuid:
                return c
    raise OSError('no characteristic %x' % uuid)
"""


def pycom_central(board) -> None:
    """Load PYCOM_CENTRAL on the board."""
    board.exec(PYCOM_CENTRAL, 15)


# -- generic peripherals for the limits tests ------------------------------------------------

TEST_SERVICE = UUID.from_16_bits(0xFFE0)
TEST_CHAR = UUID.from_16_bits(0xFFE1)


def ffe0_services(value: bytes) -> list:
    """One service 0xFFE0 with a read|write|notify characteristic 0xFFE1
    holding `value` (and its CCCD, which Bumble adds)."""
    P = Characteristic.Properties
    ch = Characteristic("FFE1", P.READ | P.WRITE | P.NOTIFY, Characteristic.READABLE | Characteristic.WRITEABLE, value)
    return [Service("FFE0", [ch])]


def named_peer(air, name: str, value: bytes, interval_ms: float = 50.0):
    """A powered-on Bumble peripheral advertising the Complete Local Name
    `name` and serving ffe0_services(value). Returns (peer, characteristic)."""
    peer = air.add_peer(name=name)
    peer.power_on()
    services = air.call(ffe0_services, value)
    peer_serve(peer, services, adv_data_with_name(name.encode()), interval_ms=interval_ms)
    return peer, services[0].characteristics[0]


def gate_responses(peer, delay: Optional[float] = None, drop: bool = False) -> list:
    """Make the peer's GATT server slow (every response `delay` s late) or
    silent (`drop`: requests are taken and never answered). Returns a list
    that records the time of each request the server answered or dropped."""
    server = peer.device.gatt_server
    original = server.send_response
    seen: list = []

    def send_response(bearer, response):
        seen.append(time.monotonic())
        if drop:
            return
        if delay:
            import asyncio

            asyncio.get_running_loop().call_later(delay, original, bearer, response)
        else:
            original(bearer, response)

    server.send_response = send_response
    return seen
