#!/usr/bin/env bash
# Install Debian's Prometheus and Alertmanager for the live alerting test (tests/test_prometheus.py), once.
# Idempotent. The test runs both binaries itself on free 127.0.0.1 ports; the packaged services are not used
# (they are stopped if apt-get started them). Needs root (or sudo) and apt-get; elsewhere it only says what
# is missing, and the Prometheus tests skip themselves, except under CI=true, where they fail.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
   && command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; then
  echo "install_prometheus: prometheus, promtool and prometheus-alertmanager are present"; exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_prometheus: no apt-get here; install Prometheus 2.x and Alertmanager yourself (the Prometheus tests skip without them)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install_prometheus: not root and no sudo; run as root: apt-get install -y --no-install-recommends prometheus prometheus-alertmanager" >&2
    exit 0
  fi
fi
echo "install_prometheus: installing Debian's prometheus and prometheus-alertmanager with apt-get"
$SUDO apt-get update -qq
# policy-rc.d answers 101 so that the packages' services are not started (there may be no init system at all).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod +x "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
prometheus --version 2>&1 | head -1
prometheus-alertmanager --version 2>&1 | head -1
