#!/usr/bin/env python3
"""mpble demo (what `make demo` runs).

Starts a virtual air with two Bumble controllers, boots one firmware ("board")
on each, and shows each board coming up: its public address (ble.getPublicAddr)
and its BLE_START_STATUS_IND event.

Then it runs the vendor demos UNCHANGED from DEMOS/quecpython/: ble_server.py
on board 1 and ble_client.py on board 2, waits (at most --seconds) until the
client has discovered and read the server's characteristic, and prints both
transcripts.

Then the four Pycom examples, UNCHANGED from DEMOS/pycom/, each on a
fresh board against the Bumble peer it needs (python-tests/pycom_peers.py,
the same peers and checks as python-tests/test_pycom_demos.py):
quick_usage_heart_rate_client.py against a "Heart Rate" peripheral,
gatts_advertise_and_services.py and advertise_with_connection_events.py
with a Bumble central, scan_resolve_adv_data.py against an iBeacon
advertiser. For each it says whether the example did its job (and if not,
the first check that failed), and prints the board's transcript.

Each board records its HCI traffic (MPBLE_SNOOP) in a btsnoop file that
Wireshark or `tshark -r` opens: build/demo/board1.btsnoop and
board2.btsnoop (QuecPython), build/demo/pycom-<example>.btsnoop (Pycom) by
default (--captures DIR); the demo says where at the end.

usage: demo.py [DEMOS] [--firmware PATH] [--bring-up-only] [--seconds N]
               [--captures DIR] [--pty] [--only quecpython|pycom]
DEMOS defaults to ../shared/demos beside the repository. --pty serves the
controllers on pseudo-terminals (MPBLE_HCI=tty:...) instead of TCP.
"""

from __future__ import annotations

import argparse
import os
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


def full(air: Air, boards: list[Board], demos: Path, seconds: float) -> bool:
    """The vendor demos, unchanged: the server on board 1, the client on
    board 2. Returns whether the client got through to reading the
    server's characteristic."""
    server_py = demos / "quecpython" / "ble_server.py"
    client_py = demos / "quecpython" / "ble_client.py"
    b1, b2 = boards
    # fresh stacks: the bring-up above started BLE; stop it again
    for b in boards:
        b.exec("ble.gattStop()\nutime.sleep_ms(300)\nble.serverRelease()\n", check=False)

    say(f"\n== board1: running {server_py} unchanged")
    since1 = b1.run_file(server_py)
    b1.expect(r"ble_adv_start success", 10.0, since=since1)
    say(f"== board2: running {client_py} unchanged")
    since2 = b2.run_file(client_py)
    ok = True
    try:
        b2.expect(r"event_id : BLE_GATT_CHARA_READ_BY_UUID_IND, status = 0", seconds, since=since2)
        say("   the client found the server, discovered its service and read its characteristic")
    except BoardError:
        say(f"   the client did not read the server's characteristic within {seconds} s")
        ok = False
    time.sleep(1.0)
    for b in boards:
        b.interrupt()
    for b, since in ((b1, since1), (b2, since2)):
        say(f"\n== {b.name} transcript ({b.slot.address})")
        say(b.transcript[since:].replace("\r\n", "\n"))
    return ok


# The Pycom examples: (file, what doing its job means, runner). The runners
# (python-tests/pycom_peers.py) create the peer, run the example unchanged
# and raise AssertionError at the first check that fails.
def pycom_examples():
    import pycom_peers as pp

    return [
        (
            "quick_usage_heart_rate_client.py",
            "found the 'Heart Rate' peripheral, printed every service and readable value, disconnected",
            lambda air, board: pp.run_heart_rate_client(air, board),
        ),
        (
            "gatts_advertise_and_services.py",
            "served a Bumble central: connect/disconnect printed, reads answered by the handlers (b'\\x05' twice, b'ABC DEF', 12 34, f2, f3), the write printed",
            lambda air, board: pp.run_gatts_example(air, board, _central(air)),
        ),
        (
            "scan_resolve_adv_data.py",
            "printed the iBeacon advertiser's name and hexlified manufacturer data, stopped after its 20 s scan",
            lambda air, board: pp.run_scan_resolve(air, board),
        ),
        (
            "advertise_with_connection_events.py",
            "advertised as LoPy and printed a Bumble central's connection and disconnection",
            lambda air, board: pp.run_connection_events(air, board, _central(air)),
        ),
    ]


def _central(air: Air):
    p = air.add_peer(name="central")
    p.power_on()
    return p


def pycom(firmware: Path, captures_dir: Path, captures: list, pty: bool) -> bool:
    """Each Pycom example on its own air and board, against its peer."""
    results = []
    for name, job, run in pycom_examples():
        say(f"\n== pycom/{name} (unchanged)")
        capture = captures_dir / f"pycom-{Path(name).stem}.btsnoop"
        captures.append(capture)
        ok, why = True, ""
        with Air() as air:
            slot = air.add_controller(transport="pty" if pty else "tcp")
            board = Board(slot.hci_spec, name="pycom", firmware=firmware, env={"MPBLE_SNOOP": str(capture)})
            board.slot = slot
            pos = 0
            try:
                pos = len(board.transcript)
                run(air, board)
            except AssertionError as e:  # BoardError is one
                ok, why = False, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            except Exception as e:  # the peer side (Bumble) failed
                ok, why = False, f"{type(e).__name__}: {e}"
            finally:
                board.interrupt()
                time.sleep(0.2)
                text = board.transcript[pos:].replace("\r\n", "\n")
                board.close()
            # the example's output, without the paste-mode echo of its source
            shown = [ln for ln in text.split("\n") if not ln.startswith(("=== ", "paste mode;")) and ln != "==="]
            if len(shown) > 40:  # the scan example prints every report for 20 s
                shown = shown[:30] + [f"... ({len(shown) - 35} more lines) ..."] + shown[-5:]
            say("\n".join(shown))
            if air.errors:
                say("virtual air errors:\n" + "\n".join(air.errors))
        results.append((name, job, ok, why))
        say(f"-> pycom/{name}: " + (f"OK, {job}" if ok else f"FAILED: {why}"))
    say("\n== Pycom examples")
    for name, job, ok, why in results:
        say(f"  {'OK    ' if ok else 'FAILED'} {name}: " + (job if ok else why))
    return all(ok for _n, _j, ok, _w in results)


def quecpython(args, firmware: Path, demos: Path, captures_dir: Path, captures: list) -> bool:
    """Two boards come up; unless --bring-up-only, the QuecPython demos run
    on them (server on board 1, client on board 2)."""
    ok = True
    with Air() as air:
        boards: list[Board] = []
        try:
            for i in range(2):
                slot = air.add_controller(transport="pty" if args.pty else "tcp")
                say(f"controller {slot.name}: {slot.address} on {slot.hci_spec}")
                capture = captures_dir / f"{slot.name}.btsnoop"
                captures.append(capture)
                b = Board(slot.hci_spec, name=slot.name, firmware=firmware, env={"MPBLE_SNOOP": str(capture)})
                b.slot = slot
                boards.append(b)
            for b in boards:
                say(f"\n== {b.name} (pid {b.pid}) coming up")
                ok = bring_up(b) and ok
            if args.full and ok:
                ok = full(air, boards, demos, args.seconds)
        except BoardError as e:
            say(str(e))
            ok = False
        finally:
            for b in boards:
                b.close()
        if air.errors:
            say("\nvirtual air errors:\n" + "\n".join(air.errors))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("demos", nargs="?", default=str(repo_root().parent / "shared" / "demos"))
    ap.add_argument("--firmware", default=None, help="firmware binary (default: MPBLE_FIRMWARE or build/unix/micropython)")
    ap.add_argument("--bring-up-only", dest="full", action="store_false", help="only show the boards coming up, do not run the vendor demos")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long the client demo may take to read the server")
    ap.add_argument("--captures", default=str(repo_root() / "build" / "demo"), help="where the boards' btsnoop captures go (default: build/demo)")
    ap.add_argument("--pty", action="store_true", help="serve the controllers on pseudo-terminals (MPBLE_HCI=tty:...) instead of TCP")
    ap.add_argument("--only", choices=("quecpython", "pycom"), default=None, help="run only the QuecPython or only the Pycom demos")
    args = ap.parse_args()
    if args.only or args.full:
        # the Pycom runners read the examples from $DEMOS
        os.environ["DEMOS"] = str(Path(args.demos))

    firmware = Path(args.firmware) if args.firmware else default_firmware_path()
    if not firmware.exists():
        say(f"demo: firmware {firmware} not found: run `make firmware` first")
        return 2
    demos = Path(args.demos)
    if args.full and not (demos / "quecpython" / "ble_server.py").exists():
        say(f"demo: no vendor demos under {demos}")
        return 2
    if args.full and args.only != "quecpython" and not (demos / "pycom").is_dir():
        say(f"demo: no Pycom examples under {demos}")
        return 2

    captures_dir = Path(args.captures)
    captures_dir.mkdir(parents=True, exist_ok=True)
    captures: list[Path] = []
    qpy_ok = pycom_ok = None
    if args.only != "pycom":
        qpy_ok = quecpython(args, firmware, demos, captures_dir, captures)
    if args.full and args.only != "quecpython":
        pycom_ok = pycom(firmware, captures_dir, captures, args.pty)
    if qpy_ok is not None and pycom_ok is not None:
        say(f"\nQuecPython demos: {'OK' if qpy_ok else 'FAILED'}; Pycom examples: {'OK' if pycom_ok else 'FAILED'}")
    ok = qpy_ok is not False and pycom_ok is not False
    written = [c for c in captures if c.exists() and c.stat().st_size > 16]
    if written:
        say("\nHCI captures (btsnoop; open with Wireshark or `tshark -r FILE`):")
        for c in written:
            say(f"  {c}")
    say("\ndemo: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
