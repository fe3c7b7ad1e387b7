#!/bin/sh
# The audit of new entries from remembered state, in entries/s: a node with rate limits off, a
# demo, a first audit (the remembered state), then signed registrations fill the log for SECONDS,
# and a second audit fetches and verifies only the new entries.
#
#     scripts/audit_throughput.sh target/release/deedlog [SECONDS] [COMMANDS]
set -eu
BIN=${1:-target/release/deedlog}
SECONDS_FILL=${2:-60}
COMMANDS=${3:-1000000}
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$BIN" serve --data "$DIR/data" --bind 127.0.0.1:0 --rate-per-second 0 --newcomer-per-minute 0 \
  > "$DIR/serve.out" 2>/dev/null &
PID=$!
until grep -q "deedlog serving on" "$DIR/serve.out" 2>/dev/null; do sleep 0.2; done
URL=$(sed -n 's/^deedlog serving on \([^ ]*\).*/\1/p' "$DIR/serve.out" | head -1)
KEY=$(cat "$DIR/data/log.vkey")
"$BIN" demo --server "$URL" --data "$DIR/data" --deals 1 > /dev/null 2>&1
"$BIN" audit --server "$URL" --state "$DIR/audit" --log-key "$KEY" --json
"$BIN" bench http --server "$URL" --data "$DIR/data" --seconds "$SECONDS_FILL" --commands "$COMMANDS" 2>/dev/null | grep -E "^commands" || true
START=$(date +%s.%N)
"$BIN" audit --server "$URL" --state "$DIR/audit" --log-key "$KEY" --json 2>/dev/null
END=$(date +%s.%N)
echo "second audit wall seconds: $(echo "$END - $START" | bc)"
