#!/usr/bin/env python3
"""Runs the qemu firmware (MPS2_AN385) with the unix firmware's interface.

    micropython                       (the script `make firmware-qemu` writes)
    MPBLE_HCI=tcp:HOST:PORT micropython

- The board's REPL (UART0) is on our stdin/stdout. A terminal on stdin is
  put in raw mode, as a serial line to a board would be: bytes pass
  through unchanged (Ctrl-C reaches the board as 0x03), no echo, no CR/LF
  translation (MicroPython sends \\r\\n itself).
- The controller (UART1) is a TCP client socket to HOST:PORT (H4, as the
  unix firmware speaks it). QEMU connects at start-up without waiting and
  retries every second (reconnect=1), so a controller that is not there
  yet, or goes away, does not stop the board; meanwhile what the board
  sends is dropped. A UART cannot tell "nobody there": without MPBLE_HCI
  (the UART goes nowhere) or with nothing listening, gattStart() returns 0
  and BLE bring-up then times out, as with a silent controller.
- MPBLE_QEMU_REPL=pty (or --repl pty) puts the REPL on a pseudo-terminal
  instead, as a board's USB serial port: QEMU prints "char device
  redirected to /dev/pts/N (label repl)" on its stdout, and anything that
  speaks to a serial REPL (mpremote, pytest --board serial:/dev/pts/N)
  can open it. Until the device is opened QEMU drops what the board
  prints; the controller, and the stdin rule below, stay as they are.
- This process becomes QEMU (exec), so its pid is QEMU's. A forked helper
  copies stdin to QEMU: QEMU does not stop when its stdin ends, so when
  ours closes (or reads fail: the terminal hung up) the helper terminates
  QEMU. The helper ends with QEMU (PR_SET_PDEATHSIG) and gives a terminal
  its settings back; QEMU exits on SIGTERM/SIGINT/SIGHUP: nothing is left
  behind.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import sys
import termios
import tty

PR_SET_PDEATHSIG = 1


def qemu_args(kernel: str, qemu: str, repl: str = "stdio") -> list[str]:
    if repl == "pty":
        chardev = "pty,id=repl"
    else:
        chardev = "stdio,id=repl,signal=off"
    args = [
        qemu,
        "-machine", "mps2-an385",
        "-nodefaults",
        "-display", "none",
        "-monitor", "none",
        "-semihosting",
        "-kernel", kernel,
        "-chardev", chardev,
        "-serial", "chardev:repl",
    ]
    # Extra QEMU arguments, e.g. MPBLE_QEMU_ARGS="-gdb tcp::1234" to debug.
    args += os.environ.get("MPBLE_QEMU_ARGS", "").split()
    spec = os.environ.get("MPBLE_HCI", "")
    if spec.startswith("tcp:") and spec.count(":") >= 2:
        host, port = spec[4:].rsplit(":", 1)
        host = host.strip("[]")
        args += ["-chardev", f"socket,id=hci,host={host},port={port},nodelay=on,reconnect=1", "-serial", "chardev:hci"]
    else:
        if spec:
            print(f"micropython (qemu): MPBLE_HCI={spec} is malformed (expected tcp:HOST:PORT)", file=sys.stderr)
        args += ["-serial", "null"]
    return args


def pump(src: int, dst: int, qemu_pid: int) -> None:
    """Helper process: stdin -> QEMU; on EOF, terminate QEMU."""
    # QEMU's end (exit, kill) sends us SIGTERM: leave through the caller's
    # finally, which gives the terminal its settings back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != qemu_pid:
        os._exit(0)
    try:
        while True:
            # QEMU makes its stdout non-blocking, and a terminal's stdin and
            # stdout share that flag: wait for input instead of reading.
            select.select([src], [], [])
            try:
                data = os.read(src, 4096)
            except (InterruptedError, BlockingIOError):
                continue
            except OSError as e:
                print(f"launcher: stdin: {e}", file=sys.stderr)
                break
            if not data:
                break
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(dst, view):]
                except (InterruptedError, BlockingIOError):
                    select.select([], [dst], [])
    except OSError:
        pass
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.kill(qemu_pid, signal.SIGTERM)
    except OSError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", required=True, help="firmware.elf")
    ap.add_argument("--qemu", default=os.environ.get("MPBLE_QEMU", "qemu-system-arm"))
    ap.add_argument(
        "--repl",
        choices=("stdio", "pty"),
        default=os.environ.get("MPBLE_QEMU_REPL") or "stdio",
        help="where the REPL UART goes: our stdin/stdout, or a new pseudo-terminal (also MPBLE_QEMU_REPL)",
    )
    opts, _rest = ap.parse_known_args()  # the unix firmware's own args are ignored

    args = qemu_args(opts.kernel, opts.qemu, opts.repl)
    if opts.repl == "stdio" and os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        # Raw mode also drops output post-processing; the terminal is
        # restored by the helper when it ends (QEMU exec'ed cannot).
    else:
        saved = None
    r, w = os.pipe()
    qemu_pid = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            pump(0, w, qemu_pid)
        finally:
            if saved is not None:
                try:
                    termios.tcsetattr(0, termios.TCSANOW, saved)
                except termios.error:
                    pass
            os._exit(0)
    os.close(w)
    os.dup2(r, 0)
    os.close(r)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
