#!/bin/sh
# The node's resident memory as the number of registered parties grows: a node with rate limits
# off (its own process, so the load generator's memory is not counted), a demo (4 deals), then
# signed `party.register` commands (each a fresh party with a phone voucher) in rounds of ROUND,
# with the node's VmRSS read from /proc after each round; at the end the node is stopped and
# opened again over the same log, and its RSS once it is ready is the steady figure (the replay
# builds the sequencer's and the projector's state from the log, with no request buffers).
#
#     scripts/state_memory.sh target/release/deedlog [PARTIES] [ROUND]
#
# Prints one line per round: `parties <n> log_size <entries> rss_mb <MB>`, then `reopened ...`.
set -eu
BIN=${1:-target/release/deedlog}
PARTIES=${2:-1000000}
ROUND=${3:-250000}
DIR=$(mktemp -d)
PID=
trap 'if [ -n "$PID" ]; then kill $PID 2>/dev/null || true; fi; rm -rf "$DIR"' EXIT
start() {
  : > "$DIR/serve.out"
  "$BIN" serve --quiet --data "$DIR/data" --bind 127.0.0.1:0 --rate-per-second 0 \
    --newcomer-per-minute 0 > "$DIR/serve.out" 2>/dev/null &
  PID=$!
  until grep -q "deedlog serving on" "$DIR/serve.out" 2>/dev/null; do sleep 0.2; done
  URL=$(sed -n 's/^deedlog serving on \([^ ]*\).*/\1/p' "$DIR/serve.out" | head -1)
  until curl -sf "$URL/readyz" > /dev/null; do sleep 0.5; done
}
rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status"; }
size() { curl -s "$URL/v1/log/checkpoint" | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])'; }
start
"$BIN" demo --quiet --server "$URL" --data "$DIR/data" --deals 4 > /dev/null 2>&1
echo "parties 0 log_size $(size) rss_mb $(rss) (after the demo)"
DONE=0
while [ "$DONE" -lt "$PARTIES" ]; do
  N=$ROUND
  if [ $((PARTIES - DONE)) -lt "$N" ]; then N=$((PARTIES - DONE)); fi
  "$BIN" bench http --quiet --server "$URL" --data "$DIR/data" --seconds 600 --commands "$N" \
    2>/dev/null | grep -E "^commands" || true
  DONE=$((DONE + N))
  until curl -sf "$URL/readyz" > /dev/null; do sleep 0.5; done
  echo "parties $DONE log_size $(size) rss_mb $(rss)"
done
kill -TERM "$PID"
wait "$PID" 2>/dev/null || true
T0=$(date +%s.%N)
start
T1=$(date +%s.%N)
echo "reopened log_size $(size) rss_mb $(rss) ready_after_s $(echo "$T1 - $T0" | bc)"
echo "data folder: $(du -sm "$DIR/data" | cut -f1) MB (segments $(du -smc "$DIR"/data/log* 2>/dev/null | tail -1 | cut -f1) MB, index $(du -sm "$DIR/data/index" 2>/dev/null | cut -f1) MB, views $(du -sm "$DIR/data/views" 2>/dev/null | cut -f1) MB)"
