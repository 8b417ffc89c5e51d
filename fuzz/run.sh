#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60):
#   acl_att  ACL -> L2CAP -> ATT server / LE signaling / SMP
#   host_h4  raw H4 bytes into the whole connected host (HCI events, ACL,
#            every layer up to the QuecPython event tuples)
#   smp_pdu  SMP PDUs: parser/writer round trip, method selection, public
#            keys (on-curve check and ECDH)
# Installs cargo-fuzz if missing. Exits non-zero on any crash.
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer); on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz --version 0.13.2
fi

# Seeds are committed in seeds/<target>; regenerate them from the code so
# they follow the PDU layouts. The working corpus lives under artifacts/
# (ignored by git) so fuzzing never dirties the tree.
cargo run --quiet --release --bin gen_seeds -- seeds/acl_att seeds/host_h4 seeds/smp_pdu

for target in acl_att host_h4 smp_pdu; do
    mkdir -p "artifacts/corpus/$target"
    # -a: debug assertions, so that integer overflow panics too.
    cargo fuzz run -a "$target" "artifacts/corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -print_final_stats=1
done
