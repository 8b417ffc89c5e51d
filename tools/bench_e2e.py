#!/usr/bin/env python3
"""End-to-end benchmark of callback latency (issue 7, workload 5), no pass/fail.

The firmware runs python-tests/scripts/qpy_echo_server.py on the virtual air
(mpble_harness): a Bumble central sends sequential 20-byte Write Commands
and the board's write callback sends each one straight back as a
notification. The round trip is timed at the central, with the board's main
thread in three states:

  repl    idle at the REPL prompt
  sleep   in one long utime.sleep()
  loop    in a `while True: utime.sleep_ms(1)` loop

For each it prints p50/p99/max of the round trip, the firmware process's CPU
time per echo (user+system from /proc, all threads; 10 ms ticks, so noisy)
and the board's own callback latency figures (ble.mpbleStats(), README
"Diagnostics": packet arrival to callback start).

    .venv/bin/python tools/bench_e2e.py [--firmware PATH] [--echoes 500] [--reps 3]
    .venv/bin/python tools/bench_e2e.py --callgrind [--modes sleep] [--echoes 200] [--reps 2]

With --callgrind the firmware runs under valgrind (callgrind, instrumentation off
until the echoes start and off again after them: callgrind_control) and the
table gives instructions per echo, all threads, user space only.
"""

from __future__ import annotations

import argparse
import ast
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python-tests"))

from mpble_harness import Air, Board, default_firmware_path  # noqa: E402

SCRIPT = ROOT / "python-tests" / "scripts" / "qpy_echo_server.py"
MODES = {
    "repl": None,
    "sleep": "import utime\nprint('WAITING')\nutime.sleep(3600)\n",
    "loop": "import utime\nprint('WAITING')\nwhile True:\n    utime.sleep_ms(1)\n",
}


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def callgrind_wrapper(firmware: Path, out: Path) -> Path:
    """A launcher that runs the firmware under callgrind with
    instrumentation off; run_mode turns it on only around the echoes
    (callgrind_control -i)."""
    wrapper = out.with_suffix(".sh")
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file={out} "
        f'{firmware} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def callgrind_total(out: Path) -> int:
    # (A dump's "summary:" line can be 0 while "totals:" holds the count.)
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def run_mode(firmware: Path, mode: str, echoes: int, callgrind: Path | None = None) -> dict:
    air = Air()
    board = None
    try:
        slot = air.add_controller()
        peer = air.add_peer()
        peer.power_on()
        if callgrind is not None:
            firmware = callgrind_wrapper(firmware, callgrind)
        board = Board(slot.hci_spec, firmware=firmware, name=f"bench-{mode}", boot_timeout=60)
        out = board.exec(SCRIPT.read_text(), timeout=15)
        assert "READY" in out, out
        conn = peer.connect(str(slot.address).split("/")[0])
        peer.write(conn, 4, b"\x01\x00", with_response=True)
        if MODES[mode]:
            pos = board.exec_nowait(MODES[mode])
            board.expect(r"WAITING", 5, since=pos)
        time.sleep(0.3)

        async def echo():
            rts = []
            for i in range(echoes):
                payload = i.to_bytes(4, "little") + bytes(16)
                t0 = time.monotonic()
                pdu = await peer.aatt_raw(conn, bytes([0x52, 3, 0]) + payload, timeout=5, any_pdu=True)
                rts.append(time.monotonic() - t0)
                assert pdu == bytes([0x1B, 3, 0]) + payload, pdu.hex()
            return rts

        if callgrind is not None:
            subprocess.run(["callgrind_control", "-i", "on", str(board.pid)], check=True, capture_output=True)
        cpu0 = board.cpu_time()
        t0 = time.monotonic()
        rts = air.run(echo(), echoes * 6 + 10)
        wall = time.monotonic() - t0
        cpu = board.cpu_time() - cpu0
        if callgrind is not None:
            subprocess.run(["callgrind_control", "-i", "off", str(board.pid)], check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(board.pid)], check=True, capture_output=True)
        if MODES[mode]:
            board.interrupt()
            board.wait_prompt(10)
        out = board.exec("_s = ble.mpbleStats()\nprint('LAT', [_s[k] for k in "
                         "('cb_latency_count', 'cb_latency_p50_us', 'cb_latency_p99_us', 'cb_latency_max_us')"
                         " if k in _s])", timeout=10, check=False)
        m = re.search(r"LAT (\[.*\])", out)
        lat = ast.literal_eval(m.group(1)) if m else []
        return {
            "p50": percentile(rts, 50) * 1e3,
            "p99": percentile(rts, 99) * 1e3,
            "max": max(rts) * 1e3,
            "cpu_us": cpu / echoes * 1e6,
            "wall": wall,
            "lat": lat,
        }
    finally:
        if board is not None:
            board.close()
        air.close()


def instructions_per_echo(firmware: Path, mode: str, echoes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run_mode(firmware, mode, echoes, callgrind=out)
        # Collection was on only around the echoes: the dump taken after
        # them (callgrind.out.1) holds them, and whatever the process wrote
        # at exit holds nothing more.
        time.sleep(1)
        return sum(callgrind_total(f) for f in Path(tmp).glob("callgrind.out*")) / echoes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firmware", type=Path, default=default_firmware_path())
    ap.add_argument("--echoes", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="repl,sleep,loop")
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions per echo instead (valgrind; counts only the echo window)")
    args = ap.parse_args()
    if args.callgrind:
        print(f"workload 5 under callgrind: {args.echoes} echoes; firmware {args.firmware}")
        for mode in args.modes.split(","):
            ir = [instructions_per_echo(args.firmware, mode, args.echoes) for _ in range(args.reps)]
            print(f"| {mode} | instructions/echo " + " ".join(f"{x / 1e3:.1f} k" for x in ir) + " |", flush=True)
        return
    print(f"workload 5: {args.echoes} echoes of 20 B, median of {args.reps} runs; firmware {args.firmware}")
    print()
    print("| main thread | RT p50 ms | RT p99 ms | RT max ms | CPU µs/echo | cb latency p50/p99/max µs (count) |")
    print("|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        runs = [run_mode(args.firmware, mode, args.echoes) for _ in range(args.reps)]

        def med(key):
            return statistics.median(r[key] for r in runs)

        lats = [r["lat"] for r in runs if len(r["lat"]) == 4]
        if lats:
            mid = sorted(lats, key=lambda v: v[2])[len(lats) // 2]
            lat = f"{mid[1]}/{mid[2]}/{mid[3]} ({mid[0]})"
        else:
            lat = "n/a"
        print(f"| {mode} | {med('p50'):.2f} | {med('p99'):.2f} | {med('max'):.1f} | {med('cpu_us'):.0f} | {lat} |",
              flush=True)


if __name__ == "__main__":
    main()
