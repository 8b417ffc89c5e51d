"""A firmware process driven over its REPL, as mpremote drives a board.

The firmware's stdin/stdout/stderr sit on the slave side of a pseudo-terminal
(as a board's REPL sits on a serial port); the harness holds the master side.
A reader thread drains the master continuously into ``transcript`` (so the
firmware never blocks on a full pty) and wakes anyone waiting in ``expect``.

Two REPL protocols:

- ``raw``: mpremote's raw REPL (Ctrl-A -> "raw REPL; CTRL-B to exit\\r\\n>",
  code, Ctrl-D -> "OK", output, 0x04, error text, 0x04, ">"). Bare-metal ports
  (qemu) have it.
- ``paste``: the unix port's REPL has no raw REPL (ports/unix/main.c do_repl
  only knows Ctrl-E paste mode): wait for ">>> ", Ctrl-E, wait for "=== ",
  send the code (the firmware echoes it; we pace chunks on that echo), Ctrl-D,
  output, ">>> ".

Pty facts this relies on (MicroPython 1.25.0 ports/unix/unix_mphal.c):
- at the prompt the firmware puts the tty in raw mode with TCSAFLUSH, which
  DISCARDS unread input: never type ahead of a prompt;
- while code runs the tty is back in its original (cooked, ISIG) mode, so
  Ctrl-C becomes SIGINT -> KeyboardInterrupt. For that the pty must be the
  child's controlling terminal (setsid + TIOCSCTTY below);
- input '\\n' is turned into '\\r'; output gets ONLCR ('\\n' -> '\\r\\n').
"""

from __future__ import annotations

import codecs
import errno
import fcntl
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

PASTE_CHUNK = 256
RAW_CHUNK = 256
PROMPT = ">>> "
PASTE_BANNER = "paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
RAW_BANNER = "raw REPL; CTRL-B to exit\r\n>"
# The end of a paste-mode run: the REPL prints ">>> " when it is back (the
# output before it need not end in a newline). Output that itself contains
# ">>> " would end the wait early; tests should not print that.
_PROMPT_RE = re.compile(">>> ")


class BoardError(AssertionError):
    """A board did something the test did not expect (timeout, traceback,
    death). The message carries the recent transcript."""


def repo_root() -> Path:
    """The mpble checkout this harness is in; for a copy installed with pip
    (no checkout around it), the current directory: point MPBLE_FIRMWARE /
    MPBLE_QEMU_FIRMWARE at the firmware then."""
    root = Path(__file__).resolve().parents[2]
    if (root / "micropython-port").is_dir():
        return root
    return Path.cwd()


BOARD_KINDS = ("unix", "qemu", "serial")
DEFAULT_BAUD = 115200


def parse_board_spec(spec: str) -> tuple[str, Optional[str], int]:
    """A --board value: "unix", "qemu" or "serial:DEVICE[:BAUD]".
    Returns (kind, device, baud); device is None but for serial. Raises
    ValueError on anything else."""
    if spec in ("unix", "qemu"):
        return spec, None, DEFAULT_BAUD
    if spec.startswith("serial:"):
        rest = spec[len("serial:") :]
        device, baud = rest, DEFAULT_BAUD
        head, sep, tail = rest.rpartition(":")
        if sep and tail.isdigit():
            device, baud = head, int(tail)
        if not device:
            raise ValueError(f"--board {spec!r}: no serial device (serial:/dev/ttyUSB0[:BAUD])")
        return "serial", device, baud
    raise ValueError(f"--board {spec!r}: expected unix, qemu or serial:DEVICE[:BAUD]")


def firmware_path(kind: str = "unix") -> Path:
    """The firmware of a board kind: "unix" (build/unix/micropython) or
    "qemu" (build/qemu-mps2/micropython, the launcher of the MPS2_AN385
    firmware, with the same interface). MPBLE_FIRMWARE overrides the unix
    one, MPBLE_QEMU_FIRMWARE the qemu one."""
    if kind == "qemu":
        env = os.environ.get("MPBLE_QEMU_FIRMWARE")
        return Path(env) if env else repo_root() / "build" / "qemu-mps2" / "micropython"
    if kind != "unix":
        raise ValueError(f"unknown board kind {kind!r} (expected one of {BOARD_KINDS})")
    env = os.environ.get("MPBLE_FIRMWARE")
    return Path(env) if env else repo_root() / "build" / "unix" / "micropython"


def default_board_kind() -> str:
    """MPBLE_BOARD (unix or qemu), unix by default."""
    return os.environ.get("MPBLE_BOARD") or "unix"


def default_firmware_path() -> Path:
    return firmware_path(default_board_kind())


def _child_setup() -> None:
    # New session with the pty slave (already dup'ed to fd 0) as controlling
    # terminal, so the line discipline's ISIG delivers Ctrl-C as SIGINT.
    os.setsid()
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass


class Board:
    instances: list["Board"] = []  # every board ever started (for reports)

    def __init__(
        self,
        hci: Optional[str] = None,
        *,
        name: str = "board",
        firmware: Optional[os.PathLike | str] = None,
        env: Optional[Mapping[str, Optional[str]]] = None,
        args: Sequence[str] = (),
        repl_mode: str = "auto",
        cwd: Optional[os.PathLike | str] = None,
        boot_timeout: float = 10.0,
    ) -> None:
        """Start a firmware process.

        hci: value for MPBLE_HCI (e.g. slot.hci_spec); None leaves MPBLE_HCI
             unset (it is removed from the inherited environment).
        env: extra environment; a value of None removes that variable.
             Without MPBLE_BONDS in env, the board keeps its bonds in a
             file of its own in a fresh temporary directory (removed at
             close()), so boards never share bonds by accident; a test that
             restarts a board with its bonds passes the same MPBLE_BONDS.
        repl_mode: "auto" (from the banner), "paste" or "raw".
        """
        self.name = name
        self.firmware = Path(firmware) if firmware else default_firmware_path()
        if not self.firmware.exists():
            raise BoardError(
                f"firmware {self.firmware} does not exist: run `make firmware` "
                f"(or set MPBLE_FIRMWARE to a built firmware)"
            )
        child_env = dict(os.environ)
        child_env.pop("MPBLE_HCI", None)
        if hci is not None:
            child_env["MPBLE_HCI"] = hci
        self._bonds_dir: Optional[str] = None
        if "MPBLE_BONDS" not in (env or {}):
            self._bonds_dir = tempfile.mkdtemp(prefix="mpble-bonds-")
            child_env["MPBLE_BONDS"] = os.path.join(self._bonds_dir, f"{name}.bonds")
        for k, v in (env or {}).items():
            if v is None:
                child_env.pop(k, None)
            else:
                child_env[k] = v
        self.env = child_env
        self.hci = child_env.get("MPBLE_HCI")

        self._init_state(name, repl_mode)

        master, slave = os.openpty()
        self._master = master
        try:
            self.proc = subprocess.Popen(
                [str(self.firmware), *args],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=child_env,
                cwd=str(cwd) if cwd else None,
                preexec_fn=_child_setup,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(slave)  # only the child holds the slave: EIO on master at exit
        Board.instances.append(self)
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-pty", daemon=True)
        self._reader.start()
        try:
            self._boot(boot_timeout)
        except BaseException:
            self.close()
            raise

    def _init_state(self, name: str, repl_mode: str) -> None:
        self.name = name
        self.slot = None
        self._raw = bytearray()
        # The transcript decoded so far (see _decoded): decoding and
        # searching all of it on every chunk made a long output quadratic
        # (32 MB of print() took minutes to wait for).
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._decoded_len = 0
        self._text = ""
        self._cond = threading.Condition()
        self._eof = False
        self._mark = 0
        self._lock = threading.RLock()
        # Position in the text from which the next prompt must be awaited
        # before sending anything (None: we know we are at a prompt).
        self._busy_since: Optional[int] = None
        self.mode = repl_mode
        self.returncode: Optional[int] = None
        self.started = time.monotonic()

    # -- pty plumbing --------------------------------------------------------

    def _read_loop(self) -> None:
        while True:
            try:
                r, _, _ = select.select([self._master], [], [], 0.2)
                if not r:
                    if self._eof:
                        break
                    continue
                data = os.read(self._master, 65536)
            except OSError as e:
                if e.errno in (errno.EIO, errno.EBADF):
                    break
                raise
            except ValueError:
                break
            if not data:
                break
            with self._cond:
                self._raw += data
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            if not self.alive:
                raise self._error("firmware exited while we were writing to it")
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            view = view[n:]

    @property
    def transcript(self) -> str:
        """Everything the board printed so far (\\r\\n kept as sent)."""
        with self._cond:
            return self._decoded()

    def _decoded(self) -> str:
        # With self._cond held: the transcript, decoding only what arrived
        # since the last call (a sequence cut between reads waits in the
        # decoder, as a whole decode would have shown it once complete).
        n = len(self._raw)
        if n != self._decoded_len:
            self._text += self._decoder.decode(bytes(self._raw[self._decoded_len : n]))
            self._decoded_len = n
        return self._text

    @property
    def text(self) -> str:
        """The transcript with \\r\\n normalised to \\n."""
        return self.transcript.replace("\r\n", "\n")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_time(self) -> float:
        """utime + stime of the firmware process, in seconds (/proc/PID/stat)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state); utime is field 14, stime field 15
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def mark(self) -> int:
        """Make later expect() calls look only at output printed from now on.
        Returns the position (usable as expect(..., since=pos))."""
        self._mark = len(self.transcript)
        return self._mark

    def tail(self, n: int = 3000) -> str:
        t = self.transcript
        return t[-n:]

    @property
    def state(self) -> str:
        """One line for reports: the firmware process's state and link."""
        rc = self.proc.poll()
        run = "running" if rc is None else f"exit {rc}"
        return f"{run}, MPBLE_HCI={self.hci}"

    def _error(self, what: str) -> BoardError:
        return BoardError(
            f"[{self.name}] ({self.state}) {what}\n"
            f"--- transcript tail ---\n{self.tail().replace(chr(13) + chr(10), chr(10))}\n--- end ---"
        )

    def _wait_for(self, pattern: re.Pattern, since: int, timeout: float, what: str) -> re.Match:
        deadline = time.monotonic() + timeout
        scan_from = since
        scanned = 0.0
        with self._cond:
            while True:
                # At most one scan every 20 ms: output arrives in pty-sized
                # chunks (4 KB), and each scan copies the new text in.
                pause = scanned + 0.02 - time.monotonic()
                if pause > 0:
                    self._cond.wait(pause)
                    continue
                scanned = time.monotonic()
                text = self._decoded()
                m = pattern.search(text, scan_from)
                if m:
                    return m
                # Next time only the new text is searched, with an overlap
                # for a match that straddles what arrived (our patterns are
                # a line or a few).
                scan_from = max(since, len(text) - 4096)
                if self._eof:
                    raise self._error(f"firmware exited while waiting for {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._error(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(remaining, 0.1))

    def expect(self, regex: str | re.Pattern, timeout: float = 10.0, since: Optional[int] = None) -> re.Match:
        """Wait until the board has printed something matching `regex` since
        the last mark() (or since `since`, a transcript position; 0 = start).
        The match is against the raw transcript (lines end in \\r\\n; use
        `\\r?$` with re.M, or plain substrings). Returns the match."""
        pattern = re.compile(regex) if isinstance(regex, str) else regex
        m = self._wait_for(pattern, self._mark if since is None else since, timeout, f"/{pattern.pattern}/")
        return self._settled(pattern, m)

    # How long output must pause before a match that ends where the output
    # so far ends is taken as whole (see _settled).
    SETTLE_S = 0.25

    def _settled(self, pattern: re.Pattern, m: re.Match) -> re.Match:
        """`m`, or the longer match the rest of its line makes. A match that
        ends where the output received so far ends, inside a line, may be the
        start of what the board is still printing: a qemu board's UART sends
        a byte at a time, and CI once matched `PROMPT 0 7 (\\d+)` on "PROMPT 0
        7 3" of "PROMPT 0 7 314159" (greedy groups and `$` stop at the end of
        the text). Such a match is searched again once more output arrives,
        and taken as it is after SETTLE_S s without any."""
        with self._cond:
            while m.end() > m.start() and m.end() == len(m.string) and not m.string.endswith("\n"):
                n = len(m.string)
                quiet_until = time.monotonic() + self.SETTLE_S
                while len(self._decoded()) == n and not self._eof:
                    left = quiet_until - time.monotonic()
                    if left <= 0:
                        return m
                    self._cond.wait(left)
                text = self._decoded()
                if len(text) == n:
                    return m
                # The text only grew, so this search finds a match again,
                # starting where this one did or earlier.
                m = pattern.search(text, m.pos) or m
        return m

    # -- REPL protocols --------------------------------------------------------

    def _boot(self, timeout: float) -> None:
        m = self._wait_for(re.compile(r">>> $|>>> |raw REPL; CTRL-B to exit\r\n>"), 0, timeout, "the first REPL prompt")
        banner = self.transcript[: m.end()]
        if self.mode == "auto":
            if "Ctrl-E for paste mode" in banner:
                self.mode = "paste"  # the unix port: no raw REPL
            else:
                self.mode = "raw"
        if self.mode == "raw":
            self._enter_raw()

    def _enter_raw(self) -> None:
        pos = len(self.transcript)
        self._write(b"\r\x03\x03\x01")
        self._wait_for(re.compile(re.escape(RAW_BANNER)), pos, 5, "the raw REPL banner")
        self._busy_since = None

    def _wait_ready(self, timeout: float) -> None:
        """Block until the REPL is at a prompt after the last command we sent."""
        if self._busy_since is None:
            return
        if self.mode == "paste":
            self._wait_for(_PROMPT_RE, self._busy_since, timeout, "the REPL prompt (previous code still running?)")
        else:
            self._wait_for(re.compile("\x04>"), self._busy_since, timeout, "the raw REPL prompt (previous code still running?)")
        self._busy_since = None

    def _send_paste(self, code: bytes, timeout: float) -> int:
        """Paste `code`; return the transcript position just before Ctrl-D."""
        pos = len(self.transcript)
        self._write(b"\x05")
        self._wait_for(re.compile(re.escape(PASTE_BANNER)), pos, timeout, "the paste-mode prompt")
        for i in range(0, len(code), PASTE_CHUNK):
            chunk = code[i : i + PASTE_CHUNK]
            with self._cond:
                before = len(self._raw)
            self._write(chunk)
            # Pace on the echo: the firmware echoes each byte it took, and
            # a line end (input '\n' is read as '\r') as "\n=== ", which
            # ONLCR makes "\r\n=== " (6 bytes).
            want = sum(6 if c in (10, 13) else 1 for c in chunk)
            deadline = time.monotonic() + timeout
            with self._cond:
                while len(self._raw) - before < want:
                    if self._eof:
                        raise self._error("firmware exited while pasting")
                    if time.monotonic() > deadline:
                        raise self._error("paste echo stalled")
                    self._cond.wait(0.1)
        end = len(self.transcript)
        self._write(b"\x04")
        return end

    def _send_raw(self, code: bytes, timeout: float) -> int:
        end = len(self.transcript)
        for i in range(0, len(code), RAW_CHUNK):
            self._write(code[i : i + RAW_CHUNK])
            time.sleep(0.01)
        self._write(b"\x04")
        self._wait_for(re.compile("OK"), end, timeout, "raw REPL 'OK'")
        return end

    def _start(self, code: str | bytes, timeout: float) -> int:
        if isinstance(code, str):
            code = code.encode()
        if not self.alive:
            raise self._error("firmware is not running")
        self._wait_ready(timeout)
        if self.mode == "paste":
            pos = self._send_paste(code, timeout)
        else:
            pos = self._send_raw(code, timeout)
        self._busy_since = pos
        return pos

    def exec_nowait(self, code: str | bytes, timeout: float = 10.0) -> int:
        """Send code and return at once (it keeps running on the board).
        Returns the transcript position where its output starts."""
        with self._lock:
            return self._start(code, timeout)

    def exec(self, code: str | bytes, timeout: float = 10.0, check: bool = True) -> str:
        """Run code, wait until the REPL is back, return what it printed
        (\\n line ends). Raises BoardError on timeout or, with check=True, if
        a Traceback was printed."""
        with self._lock:
            pos = self._start(code, timeout)
            if self.mode == "paste":
                m = self._wait_for(_PROMPT_RE, pos, timeout, "the REPL prompt after exec")
                out = self.transcript[pos : m.start()]
                self._busy_since = None
                out = out.replace("\r\n", "\n")
                if out.startswith("\n"):
                    out = out[1:]
                err = out if "Traceback (most recent call last)" in out else ""
            else:
                m = self._wait_for(re.compile("\x04(.*?)\x04>", re.S), pos, timeout, "the raw REPL end of output")
                text = self.transcript
                ok = text.index("OK", pos) + 2
                out = text[ok : m.start()].replace("\r\n", "\n")
                err = m.group(1).replace("\r\n", "\n")
                self._busy_since = None
            if check and err:
                raise self._error(f"code raised on the board:\n{err}\n--- code ---\n{code if isinstance(code, str) else code.decode('utf-8', 'replace')}")
            return out

    def eval(self, expr: str, timeout: float = 10.0) -> str:
        """print(repr(expr)) on the board; return the repr text."""
        return self.exec(f"print(repr({expr}))", timeout).strip()

    def run_file(self, path: os.PathLike | str, timeout: float = 30.0) -> int:
        """Run a script file UNCHANGED (its exact bytes) and do NOT wait for it
        to finish. Returns the transcript position where its output starts; the
        REPL stays alive afterwards, so callbacks keep firing."""
        data = Path(path).read_bytes()
        return self.exec_nowait(data, timeout)

    def soft_reset(self, timeout: float = 10.0, after: str | bytes = b"") -> None:
        """Ctrl-D at the raw REPL prompt: MicroPython's soft reset (bare-metal
        ports; the unix port has none). Waits for the raw REPL to be back.
        With `after`, that code is run first and the Ctrl-D is sent with it,
        so that the soft reset follows its end with no pause."""
        if isinstance(after, str):
            after = after.encode()
        with self._lock:
            if self.mode != "raw":
                raise self._error("soft reset needs the raw REPL (a bare-metal board)")
            self._wait_ready(timeout)
            pos = len(self.transcript)
            self._write(after + b"\x04\x04" if after else b"\x04")
            self._wait_for(re.compile("soft reboot"), pos, timeout, "the soft reboot")
            self._wait_for(re.compile(re.escape(RAW_BANNER)), pos, timeout, "the raw REPL banner after the soft reboot")
            self._busy_since = None

    def interrupt(self) -> None:
        """Ctrl-C (KeyboardInterrupt for running code)."""
        self._write(b"\x03")

    def wait_prompt(self, timeout: float = 10.0) -> None:
        """Wait until code started with exec_nowait/run_file has finished."""
        with self._lock:
            self._wait_ready(timeout)

    # -- shutdown ---------------------------------------------------------------

    def close(self) -> Optional[int]:
        """Reap the firmware: SIGTERM, then SIGKILL. Idempotent."""
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        self._eof = True
        self._reader.join(2)
        try:
            os.close(self._master)
        except OSError:
            pass
        if getattr(self, "_bonds_dir", None):
            shutil.rmtree(self._bonds_dir, ignore_errors=True)
            self._bonds_dir = None
        return self.returncode

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Board {self.name} pid={self.proc.pid} hci={self.hci!r} mode={self.mode}>"


class SerialBoard(Board):
    """A board on a serial port (its USB serial REPL, or any tty: a qemu
    board's REPL on a pseudo-terminal), driven through the raw REPL as
    mpremote drives it: Ctrl-C (stop what runs), Ctrl-A (raw REPL: "raw
    REPL; CTRL-B to exit\\r\\n>"), the code, Ctrl-D -> "OK", output, 0x04,
    error text, 0x04, ">". The board runs its own firmware with its own
    controller: nothing is started here and MPBLE_HCI means nothing to it.

    soft_reset=True (the default) soft-resets the board once in the raw
    REPL (Ctrl-D), so that every test starts from a fresh VM, as `mpremote
    run` does; close() stops running code (Ctrl-C) and leaves the board at
    its friendly REPL (Ctrl-B). Needs pyserial."""

    def __init__(
        self,
        device: str,
        baud: int = DEFAULT_BAUD,
        *,
        name: str = "serial",
        soft_reset: bool = True,
        boot_timeout: float = 10.0,
    ) -> None:
        import serial  # pyserial; Bumble depends on it too

        self._init_state(name, "raw")
        self.device = device
        self.baud = baud
        self.firmware = None
        self.hci = None
        self.env: dict = {}
        self._closed = False
        try:
            self._port = serial.Serial(device, baud, timeout=0.2, write_timeout=10, exclusive=True)
        except (serial.SerialException, OSError) as e:
            raise BoardError(f"[{name}] cannot open serial port {device}: {e}") from e
        Board.instances.append(self)
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-serial", daemon=True)
        self._reader.start()
        try:
            self._enter_raw(boot_timeout)
            if soft_reset:
                self.soft_reset(boot_timeout)
        except BaseException:
            self.close()
            raise

    def _read_loop(self) -> None:
        while not self._closed:
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except Exception:  # the device went away (unplugged, QEMU gone)
                break
            if data:
                with self._cond:
                    self._raw += data
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        if self._eof:
            raise self._error("the serial port closed while we were writing to it")
        try:
            self._port.write(bytes(data))
            self._port.flush()
        except Exception as e:
            raise self._error(f"writing to {self.device} failed: {e}") from e

    def _enter_raw(self, timeout: float = 5.0) -> None:
        # Whatever state the board is in (friendly REPL, running code, raw
        # REPL): Ctrl-C twice stops code, Ctrl-A (re)prints the raw banner.
        pos = len(self.transcript)
        self._write(b"\r\x03\x03")
        time.sleep(0.1)
        self._write(b"\x01")
        self._wait_for(re.compile(re.escape(RAW_BANNER)), pos, timeout, "the raw REPL banner (is a MicroPython REPL on this port?)")
        self._busy_since = None

    @property
    def alive(self) -> bool:
        return not self._eof

    @property
    def pid(self) -> int:
        raise AttributeError("a serial board has no process here")

    def cpu_time(self) -> float:
        raise BoardError(f"[{self.name}] a serial board's CPU time is not visible from the host")

    @property
    def state(self) -> str:
        return f"serial {self.device} at {self.baud} baud, {'open' if self.alive else 'closed'}"

    def close(self) -> Optional[int]:
        """Stop running code (Ctrl-C), leave the raw REPL (Ctrl-B), close
        the port. Idempotent."""
        if not self._closed:
            if not self._eof:
                try:
                    self._port.write(b"\x03\x03\x02")
                    self._port.flush()
                except Exception:
                    pass
            self._closed = True
            self._reader.join(2)
            try:
                self._port.close()
            except Exception:
                pass
            self._eof = True
        return None

    def __repr__(self) -> str:
        return f"<SerialBoard {self.name} {self.device}@{self.baud}>"
