#!/usr/bin/env bash
# The project's test command. From a clean clone, with nothing installed by hand, it installs
# what the suites need when it is missing (pinned versions), then runs:
#   1. cargo test --workspace --locked          (every crate's tests)
#   2. scripts/fuzz.sh                          (each fuzz target for FUZZ_SECONDS, default 30)
#   3. scripts/schemathesis.sh, when it exists  (the HTTP API against its OpenAPI document)
#   4. the web pages: node's test runner over web/test/ (the in-browser verifier), then
#      web/browser/pages.browser.mjs, web/browser/app.browser.mjs, web/browser/deal.browser.mjs and
#      web/browser/messages.browser.mjs
#      (Debian's chromium driven by playwright-core)
# Non-interactive (no prompt, no stdin); every step prints what it does. The cargo test summary
# is printed again at the very end, with one total line, because CI reads the last lines.
#
#   SKIP_FUZZ=1 bash scripts/test.sh      # leave out the fuzz run (quicker local checks)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export DEBIAN_FRONTEND=noninteractive

# Pinned versions of what the suites install.
CARGO_FUZZ_VERSION="0.13.2"
VENV="$PWD/target/test-venv"

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

apt_updated=""
apt_install() {
    # Debian packages, only as root on a Debian-like system; elsewhere say what is missing.
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test: missing $*; install it (Debian: apt-get install $*) and run again" >&2
        exit 2
    fi
    if [ -z "$apt_updated" ]; then
        step "apt-get update"
        apt-get update -q </dev/null
        apt_updated=1
    fi
    step "apt-get install -y $*"
    apt-get install -y -q --no-install-recommends "$@" </dev/null
}

step "checking the tools the tests need"
if ! command -v cargo >/dev/null 2>&1; then
    echo "test: cargo is missing; install the Rust toolchain (rust-version in Cargo.toml)" >&2
    exit 2
fi
cargo --version
# libfuzzer-sys compiles libFuzzer (C++) from source.
if ! command -v c++ >/dev/null 2>&1; then
    apt_install g++
fi
if [ -z "${SKIP_FUZZ:-}" ]; then
    if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        step "cargo install --locked cargo-fuzz --version $CARGO_FUZZ_VERSION"
        cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" </dev/null
    fi
    cargo fuzz --version
fi
if [ -f scripts/schemathesis.sh ] && [ -f scripts/requirements-test.txt ]; then
    # Python packages for the schema tests go into a venv under target/, at the versions
    # pinned in scripts/requirements-test.txt (reinstalled when that file changes).
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3 python3-venv
    fi
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    stamp="$VENV/.requirements"
    if ! cmp -s scripts/requirements-test.txt "$stamp" 2>/dev/null; then
        step "python venv $VENV with scripts/requirements-test.txt"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-input -r scripts/requirements-test.txt </dev/null
        cp scripts/requirements-test.txt "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
    export DEEDLOG_TEST_VENV="$VENV"
fi

# poppler-utils (pdftotext, pdffonts): the end-to-end test reads the filed-contract PDF with them
# (its text, its embedded font subset).
if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdffonts >/dev/null 2>&1; then
    apt_install poppler-utils
fi

step "cargo test --workspace --locked"
summary="target/test-summary.txt"
mkdir -p target
set +e
cargo test --workspace --locked </dev/null 2>&1 | tee target/test-output.txt
test_rc=${PIPESTATUS[0]}
set -e
# Keep cargo's own summary lines ("test result: ...") to repeat them at the end.
grep -E '^test result: ' target/test-output.txt >"$summary" || true
if [ "$test_rc" -ne 0 ]; then
    echo "test: cargo test failed (exit $test_rc)" >&2
    exit "$test_rc"
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
    step "bash scripts/fuzz.sh (FUZZ_SECONDS=${FUZZ_SECONDS:-30} per target)"
    bash scripts/fuzz.sh </dev/null
else
    step "fuzz run skipped (SKIP_FUZZ is set)"
fi

if [ -f scripts/schemathesis.sh ]; then
    step "bash scripts/schemathesis.sh"
    bash scripts/schemathesis.sh </dev/null
else
    step "no scripts/schemathesis.sh: schema tests skipped"
fi

# The web pages: Node and npm for the pinned packages of web/package-lock.json (npm ci), Debian's
# chromium for the browser tests and a CJK font so that the screenshots show Chinese text.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
fi
if ! fc-list 2>/dev/null | grep -qi -e 'wenquanyi' -e 'noto sans cjk'; then
    apt_install fonts-wqy-microhei
fi
lockstamp="web/node_modules/.package-lock.json"
# npm ci writes this file; reinstall when it is missing or the lockfile changed since.
if [ ! -f "$lockstamp" ] || [ web/package-lock.json -nt "$lockstamp" ]; then
    step "npm ci (web/package-lock.json)"
    (cd web && npm ci --no-audit --no-fund </dev/null)
fi
step "node --test web/test/ (the in-browser verifier)"
set +e
(cd web && node --test test/ </dev/null) 2>&1 | tee target/web-unit-output.txt
web_unit_rc=${PIPESTATUS[0]}
set -e
step "node web/browser/pages.browser.mjs (the pages in chromium; screenshots in target/browser-screenshots/)"
cargo build --locked --bin deedlog </dev/null
set +e
(cd web && node browser/pages.browser.mjs </dev/null) 2>&1 | tee target/web-browser-output.txt
web_browser_rc=${PIPESTATUS[0]}
set -e
step "node web/browser/app.browser.mjs (the participant's screen in chromium; screenshots in target/browser-screenshots/app-*.png)"
set +e
(cd web && node browser/app.browser.mjs </dev/null) 2>&1 | tee target/web-app-output.txt
web_app_rc=${PIPESTATUS[0]}
set -e
step "node web/browser/deal.browser.mjs (a whole deal, one browser context per person; screenshots in target/browser-screenshots/deal-*.png)"
set +e
(cd web && node browser/deal.browser.mjs </dev/null) 2>&1 | tee target/web-deal-output.txt
web_deal_rc=${PIPESTATUS[0]}
set -e
step "node web/browser/messages.browser.mjs (在线沟通 between seller, buyer and agent; screenshots in target/browser-screenshots/messages-*.png)"
set +e
(cd web && node browser/messages.browser.mjs </dev/null) 2>&1 | tee target/web-messages-output.txt
web_messages_rc=${PIPESTATUS[0]}
set -e
if [ "$web_unit_rc" -ne 0 ] || [ "$web_browser_rc" -ne 0 ] || [ "$web_app_rc" -ne 0 ] || [ "$web_deal_rc" -ne 0 ] || [ "$web_messages_rc" -ne 0 ]; then
    echo "test: the web page tests failed (unit exit $web_unit_rc, browser exit $web_browser_rc, app exit $web_app_rc, deal exit $web_deal_rc, messages exit $web_messages_rc)" >&2
    exit 1
fi
web_unit_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' target/web-unit-output.txt | tail -1)
web_unit_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' target/web-unit-output.txt | tail -1)
web_browser_line=$(grep -E '^pages: [0-9]+ passed, [0-9]+ failed$' target/web-browser-output.txt | tail -1)
web_app_line=$(grep -E '^app: [0-9]+ passed, [0-9]+ failed$' target/web-app-output.txt | tail -1)
web_deal_line=$(grep -E '^deal: [0-9]+ passed, [0-9]+ failed$' target/web-deal-output.txt | tail -1)
web_messages_line=$(grep -E '^messages: [0-9]+ passed, [0-9]+ failed$' target/web-messages-output.txt | tail -1)

step "all suites passed in $((SECONDS - started)) s; cargo test summary:"
cat "$summary"
# One plain closing line over every test binary (the last binaries are often doc tests with
# nothing to run, and their "0 passed" must not read as the whole run's count).
awk '{ for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed;/) p += $i; if ($(i + 1) ~ /^failed;/) f += $i } }
     END { printf "cargo tests: %d passed, %d failed\n", p, f }' "$summary"
echo "web unit tests: ${web_unit_pass:-0} passed, ${web_unit_fail:-0} failed"
echo "web $web_browser_line"
echo "web $web_app_line"
echo "web $web_deal_line"
echo "web $web_messages_line"
# The one closing line over every part.
awk -v wp="${web_unit_pass:-0}" -v wf="${web_unit_fail:-0}" -v bl="$web_browser_line" -v al="$web_app_line" -v dl="$web_deal_line" -v ml="$web_messages_line" \
    '{ for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed;/) p += $i; if ($(i + 1) ~ /^failed;/) f += $i } }
     END { split(bl, b, /[ ,]+/); split(al, a, /[ ,]+/); split(dl, d, /[ ,]+/); split(ml, m, /[ ,]+/); printf "tests: %d passed, %d failed\n", p + wp + b[2] + a[2] + d[2] + m[2], f + wf + b[4] + a[4] + d[4] + m[4] }' "$summary"
