#!/usr/bin/env bash
# Installs SoftHSM2 (Debian package softhsm2) when it is missing, for the PKCS#11 signer's tests.
# Prints the path of the PKCS#11 module. Needs root or sudo the first time.
set -euo pipefail
module=/usr/lib/softhsm/libsofthsm2.so
if ! command -v softhsm2-util >/dev/null || [ ! -f "$module" ]; then
  if [ "$(id -u)" -eq 0 ]; then apt=(apt-get); else apt=(sudo -n apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q softhsm2 >/dev/null || {
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q softhsm2 >/dev/null
  }
fi
echo "$module"
