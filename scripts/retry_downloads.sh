#!/usr/bin/env bash
# Download steps of the set-up scripts, made to survive a dropped connection: `retry CMD...` runs a
# step again when it fails (4 attempts, 15 s, 45 s and 90 s apart; RETRY_PAUSES overrides), and pip
# resumes a cut-off wheel more times than its default 5. A CI run once ended after 265 s because
# one 54 MB wheel stalled at the same byte six times in a row.
# Usage: source scripts/retry_downloads.sh; retry python -m pip install ...; apt_install PACKAGE...
export PIP_RESUME_RETRIES="${PIP_RESUME_RETRIES:-20}"

retry() {
  local pauses attempt=1
  read -r -a pauses <<<"${RETRY_PAUSES:-15 45 90}"
  until "$@"; do
    if [ "$attempt" -gt "${#pauses[@]}" ]; then
      echo "setup: '$*' failed $attempt times; giving up" >&2
      return 1
    fi
    echo "setup: '$*' failed (attempt $attempt, most often a dropped download); again in ${pauses[$((attempt - 1))]} s" >&2
    sleep "${pauses[$((attempt - 1))]}"
    attempt=$((attempt + 1))
  done
}

apt_install() {
  local sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  retry "${sudo_cmd[@]}" apt-get update -q
  retry "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}
