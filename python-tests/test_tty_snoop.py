"""The serial transport (MPBLE_HCI=tty:...) and the btsnoop capture
(MPBLE_SNOOP, ble.mpbleSnoop, Bluetooth().mpble_snoop), issue 11.

Every board here reaches its controller through a pseudo-terminal that
Bumble serves (its pty: transport; `air.add_controller(transport="pty")`),
which the firmware opens as a serial device: no TCP anywhere.

- The vendor demos, unchanged: ble_server.py on one board, ble_client.py
  reading it from a second one (test_qpy_client_demo's run), with a
  capture on each; tshark (Debian's, installed by tools/setup.sh) decodes
  the client's capture and finds, by field, the LE Connection Complete
  event, the ATT Read By Group Type exchange and the notification's value
  (and the server's capture the notification it sent).
- A flood of Write Without Response loses nothing (test_qpy_flood's run).
- Closing the pty while a central is connected gives the script events 17
  and 1 (status 0x08) and a message naming MPBLE_HCI; gattStart then fails
  with a clear message (the device is gone).
- A capture from a firmware killed with SIGKILL in the middle of a flood
  parses up to its last complete packet, and those packets are the ones
  the controller exchanged with it, in order.
- ble.mpbleSnoop(path) / (None) and Bluetooth().mpble_snoop capture only
  what happens between the calls; MPBLE_SNOOP on a full disk (/dev/full)
  warns once and BLE goes on.

btsnoop: a 16-byte header ("btsnoop\\0", version 1, datalink 1002 = H4),
then records of 24-byte headers (original length, included length, flags:
bit 0 received, bit 1 command/event; drops; timestamp), big-endian.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path

import test_qpy_client_demo as client_demo
import test_qpy_flood as flood
from bumble.apps.show import SnoopPacketReader

from qpy_common import assert_no_traceback, board_address, scripts_dir
from test_qpy_lost_controller import CONNECTION_TIMEOUT, REPORT_S, _start, event_line

NOTIFY_VALUE = b"99999"  # what ble_server.py notifies on handle 3


# -- helpers ---------------------------------------------------------------------------


def read_btsnoop(path: Path) -> tuple[int, list[tuple[int, bytes]], int]:
    """(datalink, [(flags, packet)] for every complete record, number of
    bytes after the last complete record)."""
    data = path.read_bytes()
    assert data[:8] == b"btsnoop\0", f"{path}: not a btsnoop file: {data[:16].hex()}"
    version, datalink = struct.unpack(">II", data[8:16])
    assert version == 1
    records = []
    pos = 16
    while pos + 24 <= len(data):
        orig, incl, flags, _drops, _ts = struct.unpack(">IIIIQ", data[pos : pos + 24])
        if pos + 24 + incl > len(data):
            break
        assert orig == incl, f"record at {pos}: truncated on purpose? {orig} != {incl}"
        records.append((flags, data[pos + 24 : pos + 24 + incl]))
        pos += 24 + incl
    return datalink, records, len(data) - pos


def tshark() -> str:
    path = shutil.which("tshark")
    assert path, "tshark is not installed: run tools/setup.sh (it installs Debian's tshark)"
    return path


def tshark_fields(capture: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """Rows of the named fields of the packets tshark's dissectors match
    (the first occurrence of a field that a packet has more than once)."""
    args = [tshark(), "-r", str(capture), "-Y", display_filter, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"tshark failed on {capture}: {out.stderr}"
    return [row.split("\t") for row in out.stdout.splitlines() if row.strip()]


def hexval(field: str) -> bytes:
    """tshark prints bytes as 39:39:.. or 3939..; ints as 0x0003 or 3."""
    return bytes.fromhex(field.replace(":", ""))


def intval(field: str) -> int:
    return int(field, 0)


def socket_fds(pid: int) -> list[str]:
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            fds.append(f"{fd} -> {target}")
    return fds


def pty_board(air, make_board, **env):
    slot = air.add_controller(transport="pty")
    assert slot.hci_spec.startswith("tty:/dev/pts/"), slot.hci_spec
    return make_board(slot, env={k: str(v) for k, v in env.items()})


# -- the vendor demos over a serial line, with captures -----------------------------------


def test_vendor_demos_over_pty_and_tshark_decodes_the_captures(air, make_board, tmp_path):
    server_cap, client_cap = tmp_path / "server.btsnoop", tmp_path / "client.btsnoop"
    server = pty_board(air, make_board, MPBLE_SNOOP=server_cap)
    client = pty_board(air, make_board, MPBLE_SNOOP=client_cap)
    client_demo.test_client_demo_against_server_demo((server, client))
    # No TCP anywhere: both boards reach their controllers over a pty and
    # hold no socket at all.
    assert all(s.kind == "pty" for s in air.slots)
    for b in (server, client):
        assert socket_fds(b.pid) == [], f"{b.name} holds sockets: {socket_fds(b.pid)}"
    time.sleep(0.3)  # the captures' writer threads catch up

    server_addr = str(server.slot.address).split("/")[0].lower()
    client_addr = str(client.slot.address).split("/")[0].lower()

    # LE Connection Complete (Vol 4 Part E 7.7.65.1), subevent 0x01, status
    # 0: on the client as central (role 0) to the server's address, on the
    # server as peripheral (role 1) from the client's.
    for cap, role, peer_addr in ((client_cap, 0, server_addr), (server_cap, 1, client_addr)):
        rows = tshark_fields(
            cap, "bthci_evt.le_meta_subevent == 0x01", "bthci_evt.status", "bthci_evt.role", "bthci_evt.bd_addr"
        )
        assert len(rows) == 1, f"{cap.name}: LE Connection Complete events: {rows}"
        status, got_role, addr = rows[0]
        assert (intval(status), intval(got_role), addr.lower()) == (0, role, peer_addr), rows[0]

    # The client's primary service discovery (Vol 3 Part G 4.4.1): Read By
    # Group Type Request 0x0001..0xFFFF for 0x2800, sent; the response
    # (0x11), received, lists the service 0x0001..0x0004, UUID 0x180F.
    reqs = tshark_fields(
        client_cap,
        "btatt.opcode == 0x10",
        "hci_h4.direction",
        "btatt.starting_handle",
        "btatt.ending_handle",
        "btatt.uuid16",
    )
    assert reqs, "no Read By Group Type Request in the client's capture"
    direction, start, end, uuid = reqs[0]
    assert intval(direction) == 0, f"the request was not sent: {reqs[0]}"  # 0 = Sent
    assert (intval(start), intval(end), intval(uuid)) == (0x0001, 0xFFFF, 0x2800), reqs[0]
    rsps = tshark_fields(
        client_cap,
        "btatt.opcode == 0x11",
        "hci_h4.direction",
        "btatt.length",
        "btatt.handle",
        "btatt.group_end_handle",
        "btatt.uuid16",
    )
    assert rsps, "no Read By Group Type Response in the client's capture"
    direction, length, handle, end_group, uuid = rsps[0]
    assert intval(direction) == 1, f"the response was not received: {rsps[0]}"  # 1 = Rcvd
    assert (intval(length), intval(handle), intval(end_group), intval(uuid)) == (6, 1, 4, 0x180F), rsps[0]

    # The notification ble_server.py sends on connect: handle 3, b'99999';
    # received by the client, sent by the server.
    for cap, want_dir in ((client_cap, 1), (server_cap, 0)):
        ntf = tshark_fields(cap, "btatt.opcode == 0x1b", "hci_h4.direction", "btatt.handle", "btatt.value")
        assert ntf, f"no Handle Value Notification in {cap.name}"
        direction, handle, value = ntf[0]
        assert (intval(direction), intval(handle), hexval(value)) == (want_dir, 3, NOTIFY_VALUE), (cap.name, ntf)

    # Bumble's snoop reader reads the same files to the end.
    for cap in (server_cap, client_cap):
        datalink, records, rest = read_btsnoop(cap)
        assert datalink == 1002 and rest == 0
        with open(cap, "rb") as f:
            reader = SnoopPacketReader(f)
            n = 0
            while True:
                _, _, packet = reader.next_packet()
                if packet is None:
                    break
                n += 1
        assert n == len(records) > 20, (cap.name, n, len(records))


# -- flow control over a serial line -------------------------------------------------------


def test_write_command_flood_over_pty_loses_nothing(air, make_board, peer):
    board = pty_board(air, make_board)
    flood.test_write_command_flood_reaches_a_slow_callback_whole_and_in_order(board, peer)


# -- a serial device that goes away ------------------------------------------------------------


def test_closing_the_pty_while_connected_stops_ble_for_the_script(air, make_board, peer):
    board = pty_board(air, make_board)
    pos = _start(board)
    peer.connect(board_address(board))
    board.expect(event_line(r"EV 16 0 0"), 5, since=pos)

    mark = board.mark()
    air.drop_host(board.slot)  # closes the pty, both sides
    ev17 = board.expect(event_line(r"EV 17 (-?\d+) 0"), REPORT_S, since=mark)
    ev1 = board.expect(event_line(r"EV 1 (-?\d+)"), REPORT_S, since=mark)
    assert ev17.start() < ev1.start()
    assert int(ev17.group(1)) == CONNECTION_TIMEOUT and int(ev1.group(1)) == CONNECTION_TIMEOUT
    board.expect(
        re.escape(f"mpble: the controller (MPBLE_HCI={board.hci}) went away") + r" \(serial device closed or unplugged\)",
        1,
        since=mark,
    )
    out = board.exec("print('S', ble.getStatus())\nprint('G', ble.gattStart())\n", timeout=10)
    assert re.search(r"(?m)^S 0$", out), out
    # The device is gone: a clear error, not a hang.
    assert re.search(r"(?m)^G -1$", out), out
    path = board.hci[len("tty:") :]
    assert f"cannot open the controller's serial device {path} (MPBLE_HCI={board.hci}): No such file or directory" in out
    assert_no_traceback(board)


# -- a capture survives SIGKILL ----------------------------------------------------------------


def test_capture_is_readable_after_sigkill_mid_flood(air, make_board, peer, tmp_path):
    cap = tmp_path / "killed.btsnoop"
    board = pty_board(air, make_board, MPBLE_SNOOP=cap)
    out = board.exec((scripts_dir() / "qpy_write_sink_server.py").read_text(), timeout=15)
    assert "READY" in out, out
    conn = peer.connect(board_address(board))

    async def flood_forever():
        i = 0
        while True:
            await conn.gatt_client.write_value(3, i.to_bytes(2, "little"), with_response=False)
            i += 1

    import asyncio

    task = air.call(lambda: asyncio.ensure_future(flood_forever()))
    # Kill it while the writes stream in (the callback takes 20 ms each).
    deadline = time.monotonic() + 10
    while sum(1 for _, d, p in list(board.slot.hci_log) if d == "C>H" and p[:1] == b"\x02") < 40:
        assert time.monotonic() < deadline, "the flood did not reach the board"
        time.sleep(0.05)
    os.kill(board.pid, signal.SIGKILL)
    board.proc.wait(5)
    air.call(task.cancel)

    datalink, records, rest = read_btsnoop(cap)
    assert datalink == 1002
    log = list(board.slot.hci_log)
    log_depth = board.slot.hci_log.maxlen
    # (the board sends little during the flood: its bring-up, advertising)
    for bit, direction, least in ((1, "C>H", 40), (0, "H>C", 10)):
        captured = [p for f, p in records if f & 1 == bit]
        exchanged = [p for _, d, p in log if d == direction]
        if len(log) == log_depth:
            # The harness keeps only the last HCI_LOG_DEPTH packets: on a
            # slow (loaded) machine the flood outran it before the kill, so
            # the capture is compared from where the kept log starts.
            k = next(
                (i for i in range(len(captured)) if captured[i : i + 3] == exchanged[:3]),
                None,
            )
            assert k is not None, f"{direction}: the controller's packets are not in the capture"
            captured = captured[k:]
        n = min(len(captured), len(exchanged))
        # Both sides saw the same packets, in order; what was in flight
        # at the kill may be on one side only.
        assert captured[:n] == exchanged[:n], f"{direction}: capture and controller disagree"
        assert n >= least, f"{direction}: only {n} packets in common"
    writes = [p for f, p in records if f & 1 and p[:1] == b"\x02" and p[9:10] == b"\x52"]
    assert len(writes) >= 40, f"the capture holds {len(writes)} Write Commands"
    # tshark and Bumble read every complete record.
    frames = subprocess.run([tshark(), "-r", str(cap), "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, timeout=30)
    assert len(frames.stdout.split()) == len(records), (frames.stdout[-200:], frames.stderr, len(records), rest)
    with open(cap, "rb") as f:
        reader = SnoopPacketReader(f)
        got = []
        while not reader.at_end:
            _, _, packet = reader.next_packet()
            if packet is not None:
                got.append(bytes(packet))
    assert got[: len(records)] == [p for _, p in records]


# -- the Python calls, and a full disk -----------------------------------------------------------

CALLS = """\
import ble, utime, network
EV = []
print('INIT', ble.serverInit(lambda a: EV.append(a)))
print('START', ble.gattStart())
t0 = utime.ticks_ms()
while not EV and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('EV', EV)
print('SNOOP1', ble.mpbleSnoop(%(p1)r))
print('ADV1', ble.advStart())
utime.sleep_ms(200)
print('SNOOP1 OFF', ble.mpbleSnoop(None))
print('ADV0', ble.advStop())
utime.sleep_ms(200)
bt = network.Bluetooth()
bt.mpble_snoop(%(p2)r)
print('ADV1', ble.advStart())
utime.sleep_ms(200)
bt.mpble_snoop(None)
print('ADV0', ble.advStop())
utime.sleep_ms(200)
print('BAD', ble.mpbleSnoop(%(bad)r))
try:
    bt.mpble_snoop(%(bad)r)
except OSError as e:
    print('OSError', e.args[0])
"""

LE_SET_ADVERTISING_ENABLE = bytes([0x01, 0x0A, 0x20, 0x01])  # H4 command 0x200A, 1 byte


def test_snoop_calls_capture_part_of_a_script_and_a_full_disk_warns_once(air, make_board, tmp_path):
    p1, p2, bad = tmp_path / "part1.btsnoop", tmp_path / "part2.btsnoop", tmp_path / "no" / "such.btsnoop"
    board = pty_board(air, make_board, MPBLE_SNOOP="/dev/full")
    out = board.exec(CALLS % {"p1": str(p1), "p2": str(p2), "bad": str(bad)}, timeout=20)
    assert "START 0" in out and "EV [(0, 0)]" in out, out
    assert re.findall(r"(?m)^(?:SNOOP1|SNOOP1 OFF|ADV1|ADV0) (-?\d+)\r?$", out) == ["0"] * 6, out
    assert "BAD -1" in out and f"cannot open the capture file {bad}: No such file or directory" in out, out
    assert re.search(r"(?m)^OSError 2\r?$", out), out
    # MPBLE_SNOOP=/dev/full: one warning, and BLE came up all the same.
    assert board.text.count("mpble: capture to /dev/full stopped: No space left on device") == 1, board.text

    def enables(path):
        datalink, records, rest = read_btsnoop(path)
        assert datalink == 1002 and rest == 0
        sent = [p for f, p in records if f == 2]  # sent commands
        assert not any(p[:3] == bytes([0x01, 0x03, 0x0C]) for p in sent), "the bring-up's HCI Reset is in it"
        return [p[4] for p in sent if p[:4] == LE_SET_ADVERTISING_ENABLE], records

    # Each file holds only what happened between its start and stop: the
    # advStart (enable 1), never the advStop that followed it.
    on1, rec1 = enables(p1)
    on2, rec2 = enables(p2)
    assert on1 == [1] and on2 == [1], (on1, on2)
    # and the Command Complete for it (received, event 0x0E)
    for records in (rec1, rec2):
        assert any(f == 3 and p[:2] == b"\x04\x0e" and p[4:6] == b"\x0a\x20" for f, p in records), records
    assert_no_traceback(board)


# -- the line settings MPBLE_HCI=tty: asks for ------------------------------------------------

START = "import ble\nprint('INIT', ble.serverInit(lambda a: None))\nprint('START', ble.gattStart())\n"


def test_tty_line_settings_and_malformed_specs(air, make_board, tmp_path):
    """Raw 8N1, 1000000 baud and RTS/CTS by default; BAUD and FLOW as
    given; a rate termios does not know and a missing device are clear
    errors. The pty's termios (shared by both of its sides' openers) show
    what the firmware set."""
    import termios

    for suffix, speed, rtscts in (("", termios.B1000000, True), (":115200:none", termios.B115200, False), (":921600", termios.B921600, True)):
        slot = air.add_controller(transport="pty")
        board = make_board(slot, hci=slot.hci_spec + suffix)
        out = board.exec(START, timeout=10)
        assert "START 0" in out, (suffix, out)
        fd = os.open(slot.tty_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
        finally:
            os.close(fd)
        assert (ispeed, ospeed) == (speed, speed), (suffix, ispeed, ospeed)
        assert cflag & termios.CSIZE == termios.CS8 and not cflag & (termios.PARENB | termios.CSTOPB), (suffix, hex(cflag))
        assert bool(cflag & termios.CRTSCTS) == rtscts, (suffix, hex(cflag))
        assert cflag & termios.CLOCAL and cflag & termios.CREAD
        assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG), (suffix, hex(lflag))
        assert not iflag & (termios.IXON | termios.IXOFF | termios.ICRNL), (suffix, hex(iflag))
        assert not oflag & termios.OPOST, (suffix, hex(oflag))
        assert (cc[termios.VMIN], cc[termios.VTIME]) == (1, 0)
        board.close()

    # A device name with ':' in it (as /dev/serial/by-path names have) is
    # taken whole when it exists, here with the defaults.
    slot = air.add_controller(transport="pty")
    by_path = tmp_path / "pci-0000:00:14.0-usb-0:1:1.0"
    by_path.symlink_to(slot.tty_path)
    board = make_board(slot, hci=f"tty:{by_path}")
    assert "START 0" in board.exec(START, timeout=10)
    board.close()

    slot = air.add_controller(transport="pty")
    for spec, message in (
        (slot.hci_spec + ":12345", f"MPBLE_HCI=tty:{slot.tty_path}:12345: 12345 baud is not a rate"),
        ("tty:/dev/mpble-no-such-device", "cannot open the controller's serial device /dev/mpble-no-such-device "
         "(MPBLE_HCI=tty:/dev/mpble-no-such-device): No such file or directory"),
        ("tty:/dev/null", "/dev/null is not a serial device (MPBLE_HCI=tty:/dev/null)"),
        ("serial:/dev/ttyACM0", "MPBLE_HCI=serial:/dev/ttyACM0 is malformed (expected MPBLE_HCI=tcp:HOST:PORT or "
         "MPBLE_HCI=tty:/dev/ttyACM0[:BAUD[:rtscts|none]])"),
    ):
        board = make_board(hci=spec)
        out = board.exec(START, timeout=10)
        assert "START -1" in out and message in out, (spec, out)
        board.close()
