#!/usr/bin/env bash
# Installs what a fresh machine (Debian 12 + rustup) needs to build and test
# mpble: apt build tools (with arm-none-eabi binutils for make size, and
# tshark, which the capture tests decode btsnoop files with, and strace, which
# make bench counts syscalls with), the
# Rust thumbv7m target and components, the Cortex-M toolchain and QEMU for
# the bare-metal board (make firmware-qemu), the MicroPython source tree, and a
# Python venv at .venv for the tests.
# Idempotent and quick when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "setup: $*" >&2; }
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# --- apt packages -----------------------------------------------------------
APT_PKGS=(build-essential pkg-config dpkg-dev python3 python3-venv xz-utils ca-certificates
          binutils-arm-none-eabi tshark gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
          strace)
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -q
    # tshark pulls in wireshark-common, whose debconf question (may non-root
    # users capture packets?) would stop a non-interactive install: answer
    # it here (no; the tests only read files).
    echo "wireshark-common wireshark-common/install-setuid boolean false" | as_root debconf-set-selections
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${missing[@]}"
fi

# --- Rust -------------------------------------------------------------------
command -v cargo >/dev/null || { echo "setup: ERROR: cargo not found (install rustup)" >&2; exit 1; }
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx thumbv7m-none-eabi \
        || rustup target add thumbv7m-none-eabi
    comps="$(rustup component list --installed)"
    echo "$comps" | grep -q '^clippy' || rustup component add clippy
    echo "$comps" | grep -q '^rustfmt' || rustup component add rustfmt
fi

# --- MicroPython source -----------------------------------------------------
tools/get-micropython.sh >/dev/null

# --- Python venv for the tests and the demo ---------------------------------
REQ=python-tests/requirements.txt
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $PY"
    "$PY" -m venv .venv
fi
if [ -f "$REQ" ]; then
    want="$(sha256sum "$REQ" | cut -d' ' -f1)"
    have="$(cat .venv/.mpble-req-sha256 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        log "pip install -r $REQ"
        .venv/bin/python -m pip install -q --upgrade pip
        .venv/bin/python -m pip install -q -r "$REQ"
        echo "$want" > .venv/.mpble-req-sha256
    fi
else
    log "warning: $REQ not found; the venv has no test dependencies"
fi
log "ok"
