#!/usr/bin/env bash
# Makes a MicroPython v1.25.0 source tree available and prints its path.
#
# - MICROPY_DIR set: use that tree as is (it must be v1.25.0).
# - Otherwise: build/micropython-1.25.0, extracted from Debian's source
#   package micropython 1.25.0+ds-1 (suite trixie). The orig tarball is
#   checked against a pinned SHA-256 before it is extracted.
#
# Idempotent: when the tree is already there it only prints the path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MP_VERSION=1.25.0
DEB_VERSION=1.25.0+ds-1
ORIG=micropython_1.25.0+ds.orig.tar.xz
ORIG_SHA256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
SOURCES=/etc/apt/sources.list.d/mpble-trixie-src.sources

log() { echo "get-micropython: $*" >&2; }
die() { echo "get-micropython: ERROR: $*" >&2; exit 1; }

if [ -n "${MICROPY_DIR:-}" ]; then
    [ -f "$MICROPY_DIR/py/mkrules.mk" ] && [ -d "$MICROPY_DIR/ports/unix" ] \
        || die "MICROPY_DIR=$MICROPY_DIR is not a MicroPython source tree"
    cd "$MICROPY_DIR" && pwd
    exit 0
fi

DEST="$ROOT/build/micropython-$MP_VERSION"
STAMP="$DEST/.mpble-extracted"
if [ -f "$STAMP" ]; then
    echo "$DEST"
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get source needs a deb-src entry for the suite that carries 1.25.0.
if [ ! -f "$SOURCES" ]; then
    log "adding $SOURCES (deb-src, Debian trixie)"
    as_root tee "$SOURCES" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
command -v dpkg-source >/dev/null || { as_root apt-get update -q; as_root apt-get install -y -q dpkg-dev; }

SRCDIR="$ROOT/build/src"
mkdir -p "$SRCDIR"
have_good_orig() {
    [ -f "$SRCDIR/$ORIG" ] && echo "$ORIG_SHA256  $SRCDIR/$ORIG" | sha256sum --check --status
}
if ! have_good_orig; then
    log "apt-get update"
    as_root apt-get update -q >&2
    log "apt-get source --download-only micropython=$DEB_VERSION"
    (cd "$SRCDIR" && apt-get source -q --download-only "micropython=$DEB_VERSION" >&2) \
        || die "apt-get source micropython=$DEB_VERSION failed (is $SOURCES usable?)"
fi
[ -f "$SRCDIR/$ORIG" ] || die "$ORIG was not downloaded"
if ! have_good_orig; then
    die "SHA-256 mismatch for $SRCDIR/$ORIG: got $(sha256sum "$SRCDIR/$ORIG" | cut -d' ' -f1), want $ORIG_SHA256"
fi

log "extracting $ORIG"
rm -rf "$DEST" "$DEST.tmp"
mkdir -p "$DEST.tmp"
tar xf "$SRCDIR/$ORIG" -C "$DEST.tmp"
[ -d "$DEST.tmp/micropython-$MP_VERSION/py" ] || die "unexpected layout in $ORIG"
mv "$DEST.tmp/micropython-$MP_VERSION" "$DEST"
rmdir "$DEST.tmp"
touch "$STAMP"
echo "$DEST"
