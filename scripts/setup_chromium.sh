#!/usr/bin/env bash
# Install Debian's headless Chromium and its driver for Selenium when missing (the browser tests run
# it on demand: tests/support/setup_steps.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} (the browser tests drive headless Chromium)" >&2
  apt_install "${missing[@]}"
fi
