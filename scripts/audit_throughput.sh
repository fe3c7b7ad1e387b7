#!/bin/sh
# The audit of new entries from remembered state, in entries/s: a node with rate limits off, a
# demo, a first audit (the remembered state), then signed registrations fill the log with at
# least NEW entries, and a second audit fetches and verifies only the new ones, timed, with its
# peak resident memory.
#
# The fill runs in rounds of 300,000 pre-signed commands, so that every command is sent within
# the server's issued_at window (5 minutes) even at 1,000 commands/s.
#
#     scripts/audit_throughput.sh target/release/deedlog [NEW]
set -eu
BIN=${1:-target/release/deedlog}
NEW=${2:-1000000}
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$BIN" serve --data "$DIR/data" --bind 127.0.0.1:0 --rate-per-second 0 --newcomer-per-minute 0 \
  > "$DIR/serve.out" 2>/dev/null &
PID=$!
until grep -q "deedlog serving on" "$DIR/serve.out" 2>/dev/null; do sleep 0.2; done
URL=$(sed -n 's/^deedlog serving on \([^ ]*\).*/\1/p' "$DIR/serve.out" | head -1)
KEY=$(cat "$DIR/data/log.vkey")
size() { curl -s "$URL/v1/log/checkpoint" | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])'; }
"$BIN" demo --server "$URL" --data "$DIR/data" --deals 1 > /dev/null 2>&1
"$BIN" audit --server "$URL" --state "$DIR/audit" --log-key "$KEY" --json
FIRST=$(size)
SIZE=$FIRST
while [ $((SIZE - FIRST)) -lt "$NEW" ]; do
  "$BIN" bench http --server "$URL" --data "$DIR/data" --seconds 400 --commands 300000 2>/dev/null | grep -E "^commands" || true
  SIZE=$(size)
  echo "log size $SIZE"
done
START=$(date +%s.%N)
/usr/bin/time -v "$BIN" audit --server "$URL" --state "$DIR/audit" --log-key "$KEY" --json 2> "$DIR/time.txt" | tail -1
END=$(date +%s.%N)
echo "second audit wall seconds: $(echo "$END - $START" | bc)"
grep -E "Maximum resident" "$DIR/time.txt"
