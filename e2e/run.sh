#!/usr/bin/env bash
# Installs what the browser test needs (Debian's chromium and a CJK font, playwright-core from
# the npm registry at the version package-lock.json pins), builds voucherd and voucherctl (with the tests), and
# runs e2e/console.mjs. Screenshots land in e2e/screenshots/ (or $E2E_SCREENSHOTS).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "node is needed (Node.js 18 or later)"; exit 1; }

(cd e2e && npm ci --no-audit --no-fund --silent)
# `cargo test --no-run` rather than `cargo build`: built alongside the tests, the binaries get the
# same dependency features as `cargo test` gives them, so after `cargo test` (as in .ci/run)
# nothing is compiled a second time.
cargo test --no-run --quiet
node e2e/console.mjs
