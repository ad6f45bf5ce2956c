#!/usr/bin/env bash
# Install what the Label Studio and browser tests need when it is missing: Label Studio (pinned) in
# its own virtual environment build/labelstudio-venv (it pins Django and friends that must not meet
# the service's stack), and Debian's headless Chromium with its driver for Selenium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
version="1.23.2"
venv="build/labelstudio-venv"
stamp="$venv/.installed-label-studio-$version"
if [ ! -f "$stamp" ]; then
  echo "setup: installing label-studio==$version into $venv (first run: about 2 minutes)" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "label-studio==$version"
  touch "$stamp"
fi
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} (the browser tests drive headless Chromium)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
