#!/usr/bin/env python3
"""mpble demo (what `make demo` runs).

Starts a virtual air with two Bumble controllers, boots one firmware ("board")
on each, and shows each board coming up: its public address (ble.getPublicAddr)
and its BLE_START_STATUS_IND event.

Then it runs the vendor demos UNCHANGED from DEMOS/quecpython/: ble_server.py
on board 1 and ble_client.py on board 2, lets them run for --seconds, and
prints both transcripts. While the firmware has no client side, a Bumble
central (the "phone") connects to board 1 instead and exercises its server.

usage: demo.py [DEMOS] [--firmware PATH] [--bring-up-only] [--seconds N]
DEMOS defaults to ../shared/demos beside the repository.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python-tests"))

from mpble_harness import Air, Board, BoardError, default_firmware_path, format_addr, repo_root  # noqa: E402

BRINGUP = """\
import ble, utime
T0 = utime.ticks_ms()
def cb(args):
    print('EVENT', args, utime.ticks_diff(utime.ticks_ms(), T0), 'ms')
print('serverInit ->', ble.serverInit(cb))
print('gattStart ->', ble.gattStart())
"""


def say(msg: str = "") -> None:
    print(msg, flush=True)


def bring_up(board: Board, timeout: float = 5.0) -> bool:
    board.mark()
    out = board.exec(BRINGUP)
    for line in out.splitlines():
        say(f"  [{board.name}] {line}")
    if "gattStart -> 0" not in out:
        return False
    try:
        m = board.expect(r"EVENT \((-?\d+), (-?\d+)[^)]*\)", timeout)
    except BoardError:
        say(f"  [{board.name}] no BLE_START_STATUS_IND within {timeout} s")
        return False
    say(f"  [{board.name}] BLE_START_STATUS_IND: {m.group(0)}")
    if m.group(1) != "0" or m.group(2) != "0":
        return False
    raw = board.exec("a = ble.getPublicAddr()\nprint(list(a) if type(a) is bytes else a)").strip()
    try:
        addr = bytes(int(x) for x in raw.strip("[]").split(","))
        say(f"  [{board.name}] getPublicAddr() = {format_addr(addr)}  (controller: {board.slot.address})")
    except ValueError:
        say(f"  [{board.name}] getPublicAddr() = {raw}")
        return False
    return True


def has_client_side(board: Board) -> bool:
    # The client demo scans, connects and discovers: it needs the whole
    # central side, not just clientInit.
    out = board.exec("import ble\nprint('HAS_CLIENT', hasattr(ble, 'scanStart') and hasattr(ble, 'discoverAllService'))", check=False)
    return "HAS_CLIENT True" in out


def phone_session(peer, board: Board, since: int) -> None:
    """A Bumble central (the 'phone', a host no one here wrote) talks to the
    server demo: scan, connect, MTU, discovery, read, write, disconnect."""
    report = peer.find(board.slot.address, timeout=10.0)
    say(f"  [phone] heard {report.address_str}: adv {report.data.hex()}")
    conn = peer.connect(board.slot.address)
    say("  [phone] connected")
    board.expect(r"ble_gatt_send_notification success", 5.0, since=since)
    say(f"  [phone] MTU -> {peer.exchange_mtu(conn, 247)}")
    for svc, chars in peer.discover(conn):
        say(f"  [phone] service {svc.uuid} handles {svc.handle}..{svc.end_group_handle}")
        for ch, descs in chars:
            say(f"  [phone]   characteristic {ch.uuid} value handle {ch.handle} properties {int(ch.properties):#04x}")
            for d in descs:
                say(f"  [phone]     descriptor {d.type} handle {d.handle}")
    value = peer.read(conn, 3)
    say(f"  [phone] read handle 3: {len(value)} bytes")
    mark = len(board.transcript)
    peer.write(conn, 3, b"hello")
    say("  [phone] wrote b'hello' to handle 3")
    board.expect(r"len=5, data:b'hello'", 5.0, since=mark)
    peer.disconnect(conn)
    say("  [phone] disconnected")
    board.expect(r"ble disconnect successful", 5.0, since=since)
    # The demo stops BLE on disconnect: event 1 follows.
    board.expect(r"event_id=1, status=0", 5.0, since=since)


def full(air: Air, boards: list[Board], demos: Path, seconds: float) -> None:
    server_py = demos / "quecpython" / "ble_server.py"
    client_py = demos / "quecpython" / "ble_client.py"
    b1, b2 = boards
    # fresh stacks: the bring-up above started BLE; stop it again
    for b in boards:
        b.exec("ble.gattStop()\nutime.sleep_ms(300)\nble.serverRelease()\n", check=False)

    say(f"\n== board1: running {server_py} unchanged")
    since = b1.run_file(server_py)
    b1.expect(r"ble_adv_start success", 10.0, since=since)
    run_client = has_client_side(b2)
    if run_client:
        say(f"== board2: running {client_py} unchanged")
        b2.run_file(client_py)
        time.sleep(seconds)
    else:
        say("== board2: the firmware has no ble client side yet (no ble.clientInit);")
        say("   a Bumble central plays the phone against board1 instead")
        peer = air.add_peer(name="phone")
        peer.power_on()
        phone_session(peer, b1, since)

    for b in (b1, b2) if run_client else (b1,):
        b.interrupt()
    for b in (b1, b2) if run_client else (b1,):
        say(f"\n== {b.name} transcript ({b.slot.address})")
        say(b.text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("demos", nargs="?", default=str(repo_root().parent / "shared" / "demos"))
    ap.add_argument("--firmware", default=None, help="firmware binary (default: MPBLE_FIRMWARE or build/unix/micropython)")
    ap.add_argument("--bring-up-only", dest="full", action="store_false", help="only show the boards coming up, do not run the vendor demos")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long --full lets the demos run")
    args = ap.parse_args()

    firmware = Path(args.firmware) if args.firmware else default_firmware_path()
    if not firmware.exists():
        say(f"demo: firmware {firmware} not found: run `make firmware` first")
        return 2
    demos = Path(args.demos)
    if args.full and not (demos / "quecpython" / "ble_server.py").exists():
        say(f"demo: no vendor demos under {demos}")
        return 2

    ok = True
    with Air() as air:
        boards: list[Board] = []
        try:
            for i in range(2):
                slot = air.add_controller()
                say(f"controller {slot.name}: {slot.address} on {slot.hci_spec}")
                b = Board(slot.hci_spec, name=slot.name, firmware=firmware)
                b.slot = slot
                boards.append(b)
            for b in boards:
                say(f"\n== {b.name} (pid {b.pid}) coming up")
                ok = bring_up(b) and ok
            if args.full:
                full(air, boards, demos, args.seconds)
        except BoardError as e:
            say(str(e))
            ok = False
        finally:
            for b in boards:
                b.close()
        if air.errors:
            say("\nvirtual air errors:\n" + "\n".join(air.errors))
    say("\ndemo: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
