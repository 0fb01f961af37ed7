#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it
# through executable_path; its own browser download is not used). Used by `make test`
# and .ci/run. Installs with apt-get (as root, or through sudo) when missing; where it
# cannot, says what to run and fails.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

fail() {
    echo "ensure-chromium: $1" >&2
    echo "ensure-chromium: the browser tests need Chromium; install it, e.g.: sudo apt-get install chromium" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "Chromium is missing and there is no apt-get here"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "Chromium is missing, and installing it needs root (no sudo here)"
    SUDO=(sudo)
fi
echo "ensure-chromium: installing Debian chromium for the browser tests"
${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
