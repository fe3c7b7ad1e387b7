#!/usr/bin/env bash
# Bounded fuzz run: builds every cargo-fuzz target of fuzz/ (no sanitizer, so it runs on the
# stable toolchain) and runs each for FUZZ_SECONDS seconds (default 30) from its committed seed
# corpus. Any crash, panic, failed assertion, leak or time-out fails the run; the input that
# caused it is kept under fuzz/artifacts/<target>/ and its bytes are printed in hex.
#
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh                 # the longer run: 10 minutes a target
#   FUZZ_TARGETS="entry_decode checkpoint" bash scripts/fuzz.sh   # only some targets
#
# Needs cargo-fuzz (scripts/test.sh installs it) and a C++ compiler (libFuzzer is built from
# source by libfuzzer-sys).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
case "$seconds" in
'' | *[!0-9]*)
    echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
    ;;
esac
all_targets="entry_decode signed_command checkpoint proof_bundle export_jsonl http_command"
targets="${FUZZ_TARGETS:-$all_targets}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz is not installed (bash scripts/test.sh installs it)" >&2
    exit 2
fi

echo "fuzz: building targets ($(cargo fuzz --version)), no sanitizer"
cargo fuzz build -s none

# Inputs the fuzzer finds go to a scratch corpus under the fuzz crate's target folder (the
# first corpus folder is where libFuzzer writes), so the committed seeds stay as they are. The
# HTTP target's node lives in a temporary folder; TMPDIR keeps it there, and it is removed at
# the end.
scratch="fuzz/target/fuzz-run"
rm -rf "$scratch"
mkdir -p "$scratch/tmp"
export TMPDIR="$PWD/$scratch/tmp"
trap 'rm -rf "$PWD/$scratch/tmp"' EXIT

failed=""
for target in $targets; do
    mkdir -p "$scratch/corpus/$target" "fuzz/artifacts/$target"
    seeds="fuzz/corpus/$target"
    echo "fuzz: $target for ${seconds}s from $(find "$seeds" -type f | wc -l) seeds in $seeds"
    log="$scratch/$target.log"
    touch "$scratch/$target.start"
    set +e
    # -rss_limit_mb and -timeout turn memory blow-ups and hangs into failures too.
    cargo fuzz run -s none "$target" "$scratch/corpus/$target" "$seeds" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    stats=$(grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$log" | tr '\n' ' ')
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $target FAILED (exit $rc); the panic and the end of its log:"
        grep -E -A3 "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | head -n 20 || true
        tail -n 40 "$log"
        find "fuzz/artifacts/$target" -type f -newer "$scratch/$target.start" | while read -r artifact; do
            echo "fuzz: $target input $artifact (hex):"
            od -An -tx1 -v "$artifact" | tr -d ' \n' | fold -w 128
            echo
        done
        failed="$failed $target"
    else
        echo "fuzz: $target ok ($stats)"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
echo "fuzz: every target ran ${seconds}s without a failure:$(printf ' %s' $targets)"
