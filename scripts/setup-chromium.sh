#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing, for the public verification page's browser tests.
# Prints the browser's path. Needs root (or sudo) the first time.
set -euo pipefail
browser=/usr/bin/chromium
if [ ! -x "$browser" ]; then
  if [ "$(id -u)" -eq 0 ]; then apt=(apt-get); else apt=(sudo -n apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends chromium >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends chromium >/dev/null
  }
fi
echo "$browser"
