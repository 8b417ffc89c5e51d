#!/usr/bin/env bash
# Fuzzes ACL -> L2CAP -> ATT/signaling/SMP for SECONDS (default 60).
# Installs cargo-fuzz if missing. Exits non-zero on any crash.
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer); on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# Seeds are committed in seeds/acl_att; regenerate them from the code so
# they follow the PDU layouts. The working corpus lives under artifacts/
# (ignored by git) so fuzzing never dirties the tree.
cargo run --quiet --release --bin gen_seeds -- seeds/acl_att
mkdir -p artifacts/corpus/acl_att

# -a: debug assertions, so that integer overflow panics too.
cargo fuzz run -a acl_att artifacts/corpus/acl_att seeds/acl_att -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -print_final_stats=1
