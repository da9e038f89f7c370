#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/test_browser.py), once. Idempotent.
# Playwright for Python drives it with executable_path=/usr/bin/chromium; never `playwright install`,
# whose browser download is not reachable here. Needs root (or sudo) and apt-get; elsewhere it only
# says what is missing, and the browser tests skip themselves.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  echo "install_browser: $CHROMIUM is present"; exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no apt-get here; install Chromium yourself at $CHROMIUM (the browser tests skip without it)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install_browser: not root and no sudo; run as root: apt-get install -y chromium (the browser tests skip without it)" >&2
    exit 0
  fi
fi
echo "install_browser: installing Debian's chromium with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version
