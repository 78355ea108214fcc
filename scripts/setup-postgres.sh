#!/usr/bin/env bash
# Installs PostgreSQL (Debian package postgresql) when its server binaries are missing, for the
# PostgreSQL index store's tests, which start a throwaway server of their own. Prints the folder of
# the binaries (initdb, pg_ctl, postgres). Needs root or sudo the first time.
set -euo pipefail
find_bin() {
  # The newest installed major version; Debian keeps each under /usr/lib/postgresql/MAJOR/bin.
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}
if ! bin=$(find_bin); then
  if [ "$(id -u)" -eq 0 ]; then apt=(apt-get); else apt=(sudo -n apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q postgresql >/dev/null || {
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q postgresql >/dev/null
  }
  bin=$(find_bin) || { echo "setup-postgres: postgresql installed, but no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin" >&2; exit 1; }
fi
echo "$bin"
