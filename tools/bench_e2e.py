#!/usr/bin/env python3
"""End-to-end benchmark of issue 7's workloads ("Cost per operation"), no pass/fail.

The firmware runs on the virtual air (mpble_harness) against a Bumble peer:

  write   a Bumble central sends 2000 Write Without Response of 128 B into
          the write callback of python-tests/scripts/qpy_bench_server.py
  notify  the board sends 1000 notifications of 100 B (qpy_bench_server.py's
          notify()) to a subscribed Bumble central
  read    the board's client (qpy_bench_reader.py) reads a 100-byte
          characteristic of a Bumble peripheral 300 times, one at a time
  idle    10 s at the REPL after BLE has started (qpy_bench_server.py,
          advertising); one "operation" is the 10 s
  echo    a Bumble central sends 500 sequential 20-byte Write Commands and the
          board's write callback (qpy_echo_server.py) sends each one straight
          back as a notification; the round trip is timed at the central with
          the board's main thread idle at the REPL (repl), in one long
          utime.sleep() (sleep), in a `while True: utime.sleep_ms(1)` loop
          (loop), in a busy bytecode loop with no sleep (busy), and inside
          blocking Pycom GATTCCharacteristic.read() calls of a second Bumble
          peer that answers each Read Request 2 s late (blocking; QuecPython
          has no blocking call)

Each is run --reps times (median shown); the window is cut around the
workload only (after connecting, subscribing, exchanging the MTU). Per
operation it gives:

  CPU     the firmware process's user+system time from /proc (all threads;
          10 ms ticks, so noisy)
  sys     syscalls, from `strace -c -f -p PID` over the window, in one extra
          run per workload (ptrace slows the process, so that run's CPU and
          wall are not used); "-" without strace or with --no-strace
  instr   instructions (user space, all threads) from callgrind, in --reps
          extra runs under valgrind with instrumentation on only in the
          window (callgrind_control -i on/off); only with --callgrind
  wall    seconds for the window, and operations per second
  lost    what the workload's own count check found missing or wrong, plus
          the drop counters of ble.mpbleStats() (every "*dropped" key but
          adv_fifo_dropped, which counts a Pycom FIFO by design); for notify
          also how often sendNotification was refused (queue full, retried)
  cb lat  the board's own callback latency p50/p99/max µs (mpbleStats, README
          "Diagnostics")

    .venv/bin/python tools/bench_e2e.py [--firmware PATH] [--reps 3] [--callgrind]
        [--workloads write,notify,read,idle,echo] [--modes repl,sleep,loop,busy,blocking]
        [--writes 2000] [--notifications 1000] [--reads 300] [--idle 10] [--echoes 500]
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python-tests"))

from mpble_harness import Air, Board, default_firmware_path  # noqa: E402

SCRIPTS = ROOT / "python-tests" / "scripts"
ECHO_MODES = {
    "repl": None,
    "sleep": "import utime\nprint('WAITING')\nutime.sleep(3600)\n",
    "loop": "import utime\nprint('WAITING')\nwhile True:\n    utime.sleep_ms(1)\n",
    "busy": "print('WAITING')\nx = 0\nwhile True:\n    x += 1\n",
    "blocking": "print('WAITING')\nwhile True:\n    ch.read()\n",
}
# The blocking mode's peer answers each Read Request this late.
SLOW_READ_S = 2.0


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


# -- measuring ---------------------------------------------------------------------


def callgrind_wrapper(firmware: Path, out: Path) -> Path:
    """A launcher that runs the firmware under callgrind with
    instrumentation off; Probe turns it on only around the workload
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


def strace_by_name(text: str) -> dict[str, int]:
    """Calls per syscall name from an `strace -c` summary."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and f[-1] != "total" and f[3].isdigit():
            out[f[-1]] = int(f[3])
    return out


def strace_calls(text: str) -> int:
    """Total calls from an `strace -c` summary (its "total" row: % time,
    seconds, usecs/call, calls, [errors], total); 0 for an empty one."""
    for line in text.splitlines():
        f = line.split()
        if f and f[-1] == "total":
            return int(f[3])
    # strace writes nothing at all when the window saw no syscall.
    if text.strip():
        raise RuntimeError(f"no total in strace summary: {text!r}")
    return 0


class Probe:
    """The measurement window around one workload: CPU time from /proc and
    wall time always; syscalls (strace attached for the window) or
    instructions (callgrind instrumentation on for the window) when asked."""

    def __init__(self, board: Board, callgrind: bool = False, strace: Optional[Path] = None) -> None:
        self.board = board
        self.callgrind = callgrind
        self.strace_out = strace
        self._strace: Optional[subprocess.Popen] = None
        self.result: dict = {}

    def _control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.board.pid)], check=True, capture_output=True)

    def _attach_strace(self) -> None:
        self._strace = subprocess.Popen(
            ["strace", "-c", "-f", "-o", str(self.strace_out), "-p", str(self.board.pid)],
            stderr=subprocess.PIPE, text=True,
        )
        # strace says "Process N attached with M threads" once it has
        # seized every thread of the process (-f; "Process N attached" for a
        # single-threaded one): the window opens after that.
        line = ""
        deadline = time.monotonic() + 10
        while "attached" not in line and time.monotonic() < deadline:
            line = self._strace.stderr.readline()
            if not line:
                raise RuntimeError("strace did not attach")

    def start(self) -> None:
        if self.strace_out is not None:
            self._attach_strace()
        if self.callgrind:
            self._control("-i", "on")
        self._cpu0 = self.board.cpu_time()
        self._t0 = time.monotonic()

    def stop(self) -> dict:
        wall = time.monotonic() - self._t0
        cpu = self.board.cpu_time() - self._cpu0
        if self.callgrind:
            self._control("-i", "off")
            self._control("-d")
        syscalls = None
        if self._strace is not None:
            self._strace.send_signal(signal.SIGINT)  # detach and write the summary
            self._strace.wait(10)
            text = self.strace_out.read_text()
            syscalls = strace_calls(text)
            self.result["by_name"] = strace_by_name(text)
        self.result.update(wall=wall, cpu=cpu, syscalls=syscalls)
        return self.result


def board_stats(board: Board) -> dict:
    out = board.exec("print('STATS', ble.mpbleStats())", timeout=30, check=False)
    m = re.search(r"STATS (\{.*\})", out)
    return ast.literal_eval(m.group(1)) if m else {}


def dropped(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if "dropped" in k and k != "adv_fifo_dropped" and v}


# -- workloads ---------------------------------------------------------------------


@dataclass
class Ctx:
    air: Air
    slot: object
    peer: object
    board: Board
    probe: Probe
    slow: float  # time-out factor (valgrind is ~50x slower)


@dataclass
class Outcome:
    ops: int  # operations the window was meant to do
    lost: int = 0  # missing or wrong ones the workload's check found
    notes: list = field(default_factory=list)
    rts: list = field(default_factory=list)  # echo round trips, s


def _start_server(c: Ctx, script: str) -> None:
    out = c.board.exec((SCRIPTS / script).read_text(), timeout=15 * c.slow)
    assert "READY" in out and "NOT READY" not in out, out


def _connect_central(c: Ctx, mtu: int = 0):
    conn = c.peer.connect(str(c.slot.address).split("/")[0], timeout=5 * c.slow)
    if mtu:
        c.peer.exchange_mtu(conn, mtu, timeout=5 * c.slow)
    return conn


def wl_write(c: Ctx, n: int, size: int = 128) -> Outcome:
    """Workload 1: n Write Without Response of `size` bytes into the callback."""
    _start_server(c, "qpy_bench_server.py")
    c.board.exec(f"WANT[0] = {n}\nSIZE[0] = {size}\n", timeout=5 * c.slow)
    conn = _connect_central(c, mtu=size + 3)
    time.sleep(0.3)
    pos = c.board.mark()

    async def flood():
        for i in range(n):
            await conn.gatt_client.write_value(3, i.to_bytes(2, "little") + bytes(size - 2), with_response=False)

    c.probe.start()
    c.air.run(flood(), 60 * c.slow)
    try:
        m = c.board.expect(r"GOT (\d+) (\d+)", 60 * c.slow, since=pos)
        got, bad = int(m.group(1)), int(m.group(2))
    except AssertionError:
        got, bad = None, None
    c.probe.stop()
    if got is None:
        out = c.board.exec("print('GOT', GOT[0], GOT[1])", timeout=10 * c.slow)
        m = re.search(r"GOT (\d+) (\d+)", out)
        got, bad = int(m.group(1)), int(m.group(2))
    return Outcome(ops=n, lost=(n - got) + bad)


def wl_notify(c: Ctx, n: int, size: int = 100) -> Outcome:
    """Workload 2: n notifications of `size` bytes to a subscribed central."""
    _start_server(c, "qpy_bench_server.py")
    conn = _connect_central(c, mtu=size + 3)
    c.peer.write(conn, 4, b"\x01\x00", with_response=True)  # CCCD: notifications on
    time.sleep(0.3)
    log = c.peer.att_log
    first = len(log)

    def received() -> list[bytes]:
        return [p for _t, h, p in log[first:] if h == conn.handle and p[:3] == b"\x1b\x03\x00"]

    c.probe.start()
    out = c.board.exec(f"notify({n}, {size})", timeout=60 * c.slow)
    deadline = time.monotonic() + 10 * c.slow
    while len(received()) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    c.probe.stop()
    m = re.search(r"SENT (\d+) (\d+)", out)
    assert m, out
    got = received()
    in_order = sum(1 for i, p in enumerate(got) if len(p) == 3 + size and p[3:5] == (i & 0xFFFF).to_bytes(2, "little"))
    return Outcome(ops=n, lost=n - in_order, notes=[f"{m.group(2)} refused"])


def wl_read(c: Ctx, n: int, size: int = 100) -> Outcome:
    """Workload 3: n sequential reads by the board's client of a `size`-byte
    characteristic of a Bumble peripheral."""
    from bumble.gatt import Characteristic, Service
    from qpy_common import adv_data_with_name, peer_serve

    value = bytes((7 * i + 3) & 0xFF for i in range(size))

    def make():
        ch = Characteristic("FFF1", Characteristic.Properties.READ, Characteristic.READABLE, value)
        return ch, Service("FFF0", [ch])

    ch, svc = c.air.call(make)
    peer_serve(c.peer, [svc], adv_data_with_name(b"mpble-peer"))
    handle = c.air.call(lambda: ch.handle)
    out = c.board.exec((SCRIPTS / "qpy_bench_reader.py").read_text(), timeout=15 * c.slow)
    assert "READY" in out and "NOT READY" not in out, out
    out = c.board.exec(f"link({bytes(c.peer.random_address)!r})", timeout=15 * c.slow)
    m = re.search(r"LINK (\w+) (\d+)", out)
    assert m and m.group(1) == "True" and int(m.group(2)) >= size + 1, out
    time.sleep(0.3)
    pos = c.board.mark()
    c.probe.start()
    c.board.exec(f"reads({n}, {handle}, {size})", timeout=10 * c.slow)
    m = c.board.expect(r"READS (\d+) (\d+)", 60 * c.slow, since=pos)
    c.probe.stop()
    return Outcome(ops=n, lost=(n - int(m.group(1))) + int(m.group(2)))


def wl_idle(c: Ctx, seconds: float) -> Outcome:
    """Workload 4: `seconds` at the REPL after BLE has started (advertising)."""
    _start_server(c, "qpy_bench_server.py")
    time.sleep(0.5)
    c.probe.start()
    time.sleep(seconds)
    c.probe.stop()
    return Outcome(ops=1)


def wl_echo(c: Ctx, n: int, mode: str) -> Outcome:
    """Workload 5: n sequential echoes, the main thread in `mode`."""
    _start_server(c, "qpy_echo_server.py")
    conn = _connect_central(c)
    c.peer.write(conn, 4, b"\x01\x00", with_response=True)
    if mode == "blocking":
        _slow_peer_link(c)
    if ECHO_MODES[mode]:
        pos = c.board.exec_nowait(ECHO_MODES[mode])
        c.board.expect(r"WAITING", 5 * c.slow, since=pos)
    time.sleep(0.3)

    async def echo():
        rts = []
        for i in range(n):
            payload = i.to_bytes(4, "little") + bytes(16)
            t0 = time.monotonic()
            pdu = await c.peer.aatt_raw(conn, bytes([0x52, 3, 0]) + payload, timeout=5 * c.slow, any_pdu=True)
            rts.append(time.monotonic() - t0)
            assert pdu == bytes([0x1B, 3, 0]) + payload, pdu.hex()
        return rts

    c.probe.start()
    rts = c.air.run(echo(), n * 6 * c.slow + 10)
    c.probe.stop()
    if ECHO_MODES[mode]:
        c.board.interrupt()
        c.board.wait_prompt(10 * c.slow)
    return Outcome(ops=n, rts=rts)


def _slow_peer_link(c: Ctx) -> None:
    """The echo board also becomes a Pycom central linked to a Bumble
    peripheral whose Read Responses come SLOW_READ_S late (`ch` on the
    board: its characteristic). QuecPython's write event names no link, so
    the echo script's notification link is set back to the echo central's
    once the Pycom link's connection event has passed."""
    from pycom_peers import gate_responses, named_peer, pycom_central

    c.board.exec("ECHO_CONN = conn[0]", 5 * c.slow)
    slow, _ch = named_peer(c.air, "slow", b"slow value")
    pycom_central(c.board)
    c.board.exec("sc = find_connect('slow', 10000)\nch = find_char(sc, 0xFFE1)\nch.read()", 60 * c.slow)
    c.board.exec("import utime\nutime.sleep_ms(100)\nconn[0] = ECHO_CONN", 5 * c.slow)
    c.air.call(gate_responses, slow, delay=SLOW_READ_S)


@dataclass
class Workload:
    key: str
    label: str
    run: Callable[[Ctx], Outcome]


def workloads(args) -> list[Workload]:
    out = []
    for name in args.workloads.split(","):
        if name == "write":
            out.append(Workload("write", f"1 write without response ({args.writes} × 128 B)",
                                lambda c: wl_write(c, args.writes)))
        elif name == "notify":
            out.append(Workload("notify", f"2 notification ({args.notifications} × 100 B)",
                                lambda c: wl_notify(c, args.notifications)))
        elif name == "read":
            out.append(Workload("read", f"3 client read ({args.reads} × 100 B)",
                                lambda c: wl_read(c, args.reads)))
        elif name == "idle":
            out.append(Workload("idle", f"4 idle ({args.idle:g} s)",
                                lambda c: wl_idle(c, args.idle)))
        elif name == "echo":
            for mode in args.modes.split(","):
                out.append(Workload(f"echo-{mode}", f"5 echo, {mode} ({args.echoes} × 20 B)",
                                    lambda c, mode=mode: wl_echo(c, args.echoes, mode)))
        else:
            raise SystemExit(f"unknown workload {name!r}")
    return out


def run_once(firmware: Path, wl: Workload, callgrind: bool = False, strace: bool = False) -> dict:
    """One fresh air, board and peer; the workload; the board's stats."""
    with tempfile.TemporaryDirectory() as tmp:
        air = Air()
        board = None
        try:
            slot = air.add_controller()
            peer = air.add_peer()
            peer.power_on()
            fw = callgrind_wrapper(firmware, Path(tmp) / "callgrind.out") if callgrind else firmware
            board = Board(slot.hci_spec, firmware=fw, name=f"bench-{wl.key}", boot_timeout=60)
            probe = Probe(board, callgrind=callgrind, strace=Path(tmp) / "strace.out" if strace else None)
            ctx = Ctx(air, slot, peer, board, probe, slow=20.0 if callgrind else 1.0)
            res = wl.run(ctx)
            stats = board_stats(board)
        finally:
            if board is not None:
                board.close()
            air.close()
        r = dict(probe.result, outcome=res, stats=stats)
        if callgrind:
            # Collection was on only in the window: the dump taken at its
            # end (callgrind.out.1) holds it; the exit dump holds nothing more.
            time.sleep(1)
            r["instr"] = sum(callgrind_total(f) for f in Path(tmp).glob("callgrind.out*"))
        return r


# -- the table ------------------------------------------------------------------------


def fmt_k(x: Optional[float]) -> str:
    return "-" if x is None else (f"{x / 1e3:.1f} k" if x >= 1e3 else f"{x:.0f}")


def row(wl: Workload, runs: list[dict], sruns: list[dict], cruns: list[dict]) -> tuple[str, Optional[str]]:
    ops = runs[0]["outcome"].ops
    cpu = statistics.median(r["cpu"] for r in runs) / ops
    wall = statistics.median(r["wall"] for r in runs)
    sysc = statistics.median(r["syscalls"] for r in sruns) / ops if sruns else None
    instr = statistics.median(r["instr"] for r in cruns) / ops if cruns else None
    lost = [r["outcome"].lost for r in runs + sruns + cruns]
    drops: dict = {}
    for r in runs + sruns + cruns:
        for k, v in dropped(r["stats"]).items():
            drops[k] = drops.get(k, 0) + v
    # 0 when no run lost anything, else each run's count (timed, strace'd, callgrind'd runs)
    lost_s = "/".join(str(x) for x in lost) if any(lost) else "0"
    lost_s += "".join(f", {k} {v}" for k, v in drops.items())
    if any(r["outcome"].notes for r in runs):
        lost_s += " (" + " / ".join("; ".join(r["outcome"].notes) for r in runs) + ")"
    lats = [[r["stats"].get(k) for k in ("cb_latency_count", "cb_latency_p50_us", "cb_latency_p99_us", "cb_latency_max_us")]
            for r in runs]
    lats = [v for v in lats if None not in v]
    if lats:
        mid = sorted(lats, key=lambda v: v[2])[len(lats) // 2]
        lat = f"{mid[1]}/{mid[2]}/{mid[3]} ({mid[0]})"
    else:
        lat = "n/a"
    cpu_s = f"{cpu:.3f} s" if wl.key == "idle" else f"{cpu * 1e6:.0f} µs"
    if wl.key == "echo-busy":
        # The window's CPU and instructions are the busy loop's own.
        cpu_s, instr = "(loop)", None
    rate = "-" if wl.key == "idle" else f"{ops / wall:.0f}"
    line = f"| {wl.label} | {cpu_s} | {fmt_k(sysc)} | {fmt_k(instr)} | {wall:.2f} | {rate} | {lost_s} | {lat} |"
    rt = None
    if runs[0]["outcome"].rts:
        def med(fn):
            return statistics.median(fn(r["outcome"].rts) for r in runs) * 1e3
        rt = (f"| {wl.key.split('-', 1)[1]} | {med(lambda v: percentile(v, 50)):.2f} | "
              f"{med(lambda v: percentile(v, 99)):.2f} | {med(max):.1f} |")
    return line, rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firmware", type=Path, default=default_firmware_path())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default="write,notify,read,idle,echo")
    ap.add_argument("--modes", default="repl,sleep,loop", help="main-thread states for the echo workload")
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--notifications", type=int, default=1000)
    ap.add_argument("--reads", type=int, default=300)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds")
    ap.add_argument("--echoes", type=int, default=500)
    ap.add_argument("--callgrind", action="store_true",
                    help="also --reps runs per workload under callgrind for instructions per operation")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace run (syscalls per operation)")
    args = ap.parse_args()
    strace = not args.no_strace and shutil.which("strace") is not None
    if args.callgrind and shutil.which("callgrind_control") is None:
        raise SystemExit("--callgrind needs valgrind (callgrind_control)")
    print(f"issue 7 workloads, median of {args.reps} runs; firmware {args.firmware}")
    print(f"syscalls: {'strace -c -f, one extra run each' if strace else 'not counted (no strace)'}; "
          f"instructions: {'callgrind, ' + str(args.reps) + ' extra runs each' if args.callgrind else 'not counted (--callgrind)'}")
    print()
    print("| workload | CPU/op | syscalls/op | instr./op | wall s | ops/s | lost (per run) | cb latency p50/p99/max µs (count) |")
    print("|---|---|---|---|---|---|---|---|")
    rts = []
    by_name = []
    for wl in workloads(args):
        runs = [run_once(args.firmware, wl) for _ in range(args.reps)]
        sruns = [run_once(args.firmware, wl, strace=True)] if strace else []
        cruns = [run_once(args.firmware, wl, callgrind=True) for _ in range(args.reps)] if args.callgrind else []
        line, rt = row(wl, runs, sruns, cruns)
        print(line, flush=True)
        if rt:
            rts.append(rt)
        if sruns and sruns[0].get("by_name"):
            ops = sruns[0]["outcome"].ops
            top = sorted(sruns[0]["by_name"].items(), key=lambda kv: -kv[1])[:6]
            by_name.append(f"- {wl.label}: " + ", ".join(f"{k} {v / ops:.1f}" for k, v in top))
    if by_name:
        print()
        print("syscalls per operation by name (the strace run; the six most frequent):")
        print()
        for line in by_name:
            print(line)
    if rts:
        print()
        print("echo round trip at the central (median of the runs' figures):")
        print()
        print("| main thread | RT p50 ms | RT p99 ms | RT max ms |")
        print("|---|---|---|---|")
        for rt in rts:
            print(rt)


if __name__ == "__main__":
    main()
