#!/usr/bin/env bash
# Fuzzes the served OpenAPI document with schemathesis (every check), against `deedlog serve`
# on a fresh temporary data folder and a free loopback port. Exits non-zero on any failure.
#
#   scripts/schemathesis.sh              # bounded run (about two minutes)
#   ST_MAX_EXAMPLES=200 ST_MAX_TIME=600 scripts/schemathesis.sh
#
# schemathesis is installed at a pinned version into a virtualenv under target/ when missing.
set -euo pipefail

ST_VERSION="4.32.5"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ST_VENV:-$ROOT/target/schemathesis-venv}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"
MAX_TIME="${ST_MAX_TIME:-240}"

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
    echo "installing schemathesis $ST_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi

BIN="${DEEDLOG_BIN:-}"
if [[ -z "$BIN" ]]; then
    cargo build --quiet --bin deedlog --manifest-path "$ROOT/Cargo.toml"
    BIN="$ROOT/target/debug/deedlog"
fi

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" serve --data "$WORK/data" --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready=""
for _ in $(seq 1 300); do
    if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then
        ready=1
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
if [[ -z "$ready" ]]; then
    echo "deedlog serve did not become ready; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi

status=0
# One worker: with two, hypothesis parses lambda sources with `ast.parse` on two threads at
# once, which CPython 3.11 does not support (it failed a run with "AST constructor recursion
# depth mismatch", an error of the tool, not of the server).
# schemathesis keeps a cache of crashes in the working directory: keep it out of the tree.
cd "$WORK"
"$VENV/bin/st" --config-file "$ROOT/scripts/schemathesis.toml" run "$BASE/openapi.json" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --request-timeout 20 \
    --workers 1 \
    --seed "${ST_SEED:-1}" \
    --no-color \
    || status=$?

if [[ $status -ne 0 ]]; then
    echo "schemathesis found failures (exit $status); the server's log is in $WORK/server.log:" >&2
    tail -n 50 "$WORK/server.log" >&2 || true
fi
exit "$status"
