#!/usr/bin/env bash
# Installs the Debian packages the PC/SC tier needs, when they are missing and we are root.
# Without root it only says what is missing: the vpcd tests then fail under CI=true
# and skip (with the reason) elsewhere.
set -euo pipefail
need=()
# vsmartcard-vpicc + python3-virtualsmartcard: the baseline emulator of bench/bench_vpcd.py;
# chromium: the portal's browser tests; softhsm2: the PKCS#11 token of the HSM tests;
# fonts-wqy-zenhei: a CJK font for printed slips (PDF), needing no download
for pkg in pcscd vsmartcard-vpcd libpcsclite-dev swig pcsc-tools opensc postgresql \
           vsmartcard-vpicc python3-virtualsmartcard \
           chromium softhsm2 fonts-wqy-zenhei; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "dualcard: missing system packages (run as root to install): ${need[*]}" >&2
  exit 0
fi
echo "dualcard: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
