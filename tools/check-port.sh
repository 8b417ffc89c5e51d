#!/usr/bin/env bash
# Checks the MicroPython port's plumbing on its own: builds the firmware
# against micropython-port/tests/fake_core.c (a stand-in for the Rust core)
# into build/unix/micropython-fake and runs micropython-port/tests/
# check_port.py with a minimal H4 "controller" that answers HCI Reset (over
# TCP, then over a pseudo-terminal with a btsnoop capture).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
B="$ROOT/build/fake-core"
mkdir -p "$B" build/unix
cc -O2 -Wall -Werror -Iinclude -c micropython-port/tests/fake_core.c -o "$B/fake_core.o"
rm -f "$B/libmpble_fake.a" && ar rcs "$B/libmpble_fake.a" "$B/fake_core.o"
MP="$(tools/get-micropython.sh)"
GIT_CEILING_DIRECTORIES="$ROOT/build" make -s -C "$MP/ports/unix" BUILD="$ROOT/build/mp-unix-fake" \
    USER_C_MODULES="$ROOT" MPBLE_LIB="$B/libmpble_fake.a" FROZEN_MANIFEST= \
    MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0 MICROPY_PY_SSL=0 >/dev/null
cp "$ROOT/build/mp-unix-fake/micropython" build/unix/micropython-fake

exec python3 - "$ROOT" <<'PY'
import os, socket, subprocess, sys, threading, time
root = sys.argv[1]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
received = bytearray()
def controller():
    c, _ = srv.accept()
    while True:
        d = c.recv(64)
        if not d:
            break
        received.extend(d)
        if b"\x01\x03\x0c\x00" in received:
            c.sendall(bytes.fromhex("040e0401030c00"))  # Command Complete (Reset)
            received.extend(b"|")
threading.Thread(target=controller, daemon=True).start()
env = dict(os.environ, MPBLE_HCI="tcp:127.0.0.1:%d" % port)
t = time.time()
out = subprocess.run([root + "/build/unix/micropython-fake", root + "/micropython-port/tests/check_port.py"],
                     env=env, capture_output=True, text=True, timeout=20)
print(out.stdout, out.stderr, sep="")
print("controller received:", bytes(received).hex(), "in %.2f s" % (time.time() - t))
expect = [
    "serverInit 0", "gattStart 0", "in-callback setAdvData -> 0",
    "events [(99, 1), (0, 0, b'\\x01\\x02', 'ok', None), (99, 2)]",
    "addr b'\\x01\\x02\\x03\\x04\\x05\\x06' status 1", "ValueError: raised on purpose by a callback",
    "bluetooth Bluetooth True", "stats 7 7 True 20", "serverRelease 0", "events after release 4",
    "fake core: reset",  # mpble_port_deinit() at exit
]
missing = [e for e in expect if e not in out.stdout + out.stderr]
ok = not missing and out.returncode == 0 and bytes(received).startswith(b"\x01\x03\x0c\x00|")
print("check-port:", "OK" if ok else "FAILED, missing: %r" % missing)

# Second check: writes never block with the port lock held. A controller (as
# a bridge in front of one may) stops reading from us as soon as bulk data
# arrives, until it has sent us BLOB bytes itself; meanwhile the fake core
# hands out 8 MiB for it at once. Writes that block with the lock held
# deadlock both sides (our reader cannot take the lock to consume its
# bytes); non-blocking writes keep reading, so the controller finishes its
# send, reads everything, checks every byte in order and then signals done.
BULK = 8192 * 1024
BLOB = 4 * 1024 * 1024
srv2 = socket.socket()
srv2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no room to hide in
srv2.bind(("127.0.0.1", 0)); srv2.listen(1)
tx = {"bulk": 0, "bad": None, "blob_sent": False}
def bridge():
    c, _ = srv2.accept()
    # A small send buffer too: the blob cannot park in our own kernel.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    got = bytearray()
    while b"\x01\x03\x0c\x00" not in got:
        d = c.recv(64)
        if not d:
            return
        got.extend(d)
    c.sendall(bytes.fromhex("040e0401030c00"))  # Command Complete (Reset)
    rest = got[got.index(b"\x01\x03\x0c\x00") + 4:]
    while not rest:
        d = c.recv(1)
        if not d:
            return
        rest.extend(d)
    c.sendall((bytes(range(251)) * (BLOB // 251 + 1))[:BLOB])  # checked by the fake core
    tx["blob_sent"] = True
    bulk = bytearray(rest)
    while len(bulk) < BULK:
        d = c.recv(65536)
        if not d:
            break
        bulk.extend(d)
    tx["bulk"] = len(bulk)
    want = (bytes(range(251)) * (BULK // 251 + 1))[:len(bulk)]
    if bulk != want:
        tx["bad"] = next(i for i in range(len(bulk)) if bulk[i] != want[i])
    if len(bulk) < BULK:
        return
    c.sendall(bytes.fromhex("040e0401030c00"))  # "all received"
    time.sleep(5)
threading.Thread(target=bridge, daemon=True).start()
env = dict(os.environ, MPBLE_HCI="tcp:127.0.0.1:%d" % srv2.getsockname()[1])
t = time.time()
try:
    out = subprocess.run([root + "/build/unix/micropython-fake", root + "/micropython-port/tests/check_port_tx.py"],
                         env=env, capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    rc = out.returncode
except subprocess.TimeoutExpired as e:
    text = (e.stdout or b"").decode() + (e.stderr or b"").decode() + "\n(timed out after 30 s: deadlock?)"
    rc = None
print(text)
print("bridge: blob sent %s, bulk bytes received %d of %d, first bad byte at %s, in %.2f s"
      % (tx["blob_sent"], tx["bulk"], BULK, tx["bad"], time.time() - t))
tx_ok = (rc == 0 and "bulk 0" in text and "bulk delivered" in text and "fake core: reset" in text and tx["blob_sent"]
         and ("blob %d %d" % (BLOB, BLOB)) in text
         and tx["bulk"] == BULK and tx["bad"] is None)
print("check-port (non-blocking writes):", "OK" if tx_ok else "FAILED")
ok = ok and tx_ok

# Third check: the same bring-up over a serial device (MPBLE_HCI=tty:, here
# a pseudo-terminal) with a capture (MPBLE_SNOOP): the capture holds the
# HCI Reset as a sent command and its Command Complete as a received event.
import pty, struct, tempfile, tty
master, slave = pty.openpty()
tty.setraw(master)
dev = os.ttyname(slave)
tty_rx = bytearray()
def serial_controller():
    while True:
        try:
            d = os.read(master, 64)
        except OSError:
            return
        if not d:
            return
        tty_rx.extend(d)
        if b"\x01\x03\x0c\x00" in tty_rx:
            os.write(master, bytes.fromhex("040e0401030c00"))
            tty_rx.extend(b"|")
threading.Thread(target=serial_controller, daemon=True).start()
cap = tempfile.NamedTemporaryFile(suffix=".btsnoop", delete=False).name
env = dict(os.environ, MPBLE_HCI="tty:" + dev, MPBLE_SNOOP=cap)
out = subprocess.run([root + "/build/unix/micropython-fake", root + "/micropython-port/tests/check_port.py"],
                     env=env, capture_output=True, text=True, timeout=20)
data = open(cap, "rb").read()
os.unlink(cap)
records = []
pos = 16
while pos + 24 <= len(data):
    incl, flags = struct.unpack(">I", data[pos + 4:pos + 8])[0], struct.unpack(">I", data[pos + 8:pos + 12])[0]
    records.append((flags, data[pos + 24:pos + 24 + incl]))
    pos += 24 + incl
tty_ok = (out.returncode == 0 and "gattStart 0" in out.stdout and bytes(tty_rx).startswith(b"\x01\x03\x0c\x00|")
          and data[:16] == b"btsnoop\0" + struct.pack(">II", 1, 1002) and pos == len(data)
          and records[:2] == [(2, bytes.fromhex("01030c00")), (3, bytes.fromhex("040e0401030c00"))])
print("serial controller %s received: %s; capture records: %s" % (dev, bytes(tty_rx).hex(), [(f, p.hex()) for f, p in records[:4]]))
print("check-port (serial transport, capture):", "OK" if tty_ok else "FAILED:\n" + out.stdout + out.stderr)
ok = ok and tty_ok
sys.exit(0 if ok else 1)
PY
