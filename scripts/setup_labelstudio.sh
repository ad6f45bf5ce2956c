#!/usr/bin/env bash
# Install Label Studio (pinned) when it is missing, in its own virtual environment
# build/labelstudio-venv (it pins Django and friends that must not meet the service's stack), with a
# migrated template database. The Label Studio tests run it on demand (tests/support/setup_steps.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
version="1.23.2"
venv="build/labelstudio-venv"
stamp="$venv/.installed-label-studio-$version"
if [ ! -f "$stamp" ]; then
  echo "setup: installing label-studio==$version into $venv (first run: about 2 minutes)" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  retry "$venv/bin/python" -m pip install -q --upgrade pip
  retry "$venv/bin/python" -m pip install -q "label-studio==$version"
  touch "$stamp"
fi
# A migrated database to start from: a fresh Label Studio then starts in seconds, not minutes.
template="$venv/template"
if [ ! -f "$template/label_studio.sqlite3" ]; then
  echo "setup: migrating a template Label Studio database (once, about a minute)" >&2
  mkdir -p "$template"
  LABEL_STUDIO_BASE_DATA_DIR="$PWD/$template" LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false SENTRY_DSN= \
    FRONTEND_SENTRY_DSN= "$venv/bin/label-studio" version --data-dir "$PWD/$template" >"$template/migrate.log" 2>&1
fi
