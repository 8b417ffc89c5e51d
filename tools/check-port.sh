#!/usr/bin/env bash
# Checks the MicroPython port's plumbing on its own: builds the firmware
# against micropython-port/tests/fake_core.c (a stand-in for the Rust core)
# into build/unix/micropython-fake and runs micropython-port/tests/
# check_port.py with a minimal H4 "controller" that answers HCI Reset.
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
    "bluetooth Bluetooth True", "serverRelease 0", "events after release 4",
]
missing = [e for e in expect if e not in out.stdout + out.stderr]
ok = not missing and out.returncode == 0 and bytes(received).startswith(b"\x01\x03\x0c\x00|")
print("check-port:", "OK" if ok else "FAILED, missing: %r" % missing)
sys.exit(0 if ok else 1)
PY
