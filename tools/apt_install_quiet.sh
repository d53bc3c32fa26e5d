#!/usr/bin/env bash
# apt-get install that leaves no daemon running or enabled that was not
# before. On installation Debian starts a package's services and enables
# them for boot: prometheus.service (port 9090 on every interface) and
# haproxy.service for the tests' tools, say. Here:
#  * a temporary /usr/sbin/policy-rc.d answering 101 ("action forbidden")
#    keeps invoke-rc.d and deb-systemd-invoke from starting anything. An
#    existing policy-rc.d (Docker images ship one) is left as it is; ours is
#    marked, removed afterwards, even on failure, and recognised and replaced
#    if a killed run left it behind;
#  * units the installation newly enabled (compared with before) are
#    disabled again, except the systemd package's own (getty, ...), which
#    a machine booting systemd needs.
# Runs under a lock so checkouts installing at the same time do not remove
# each other's policy-rc.d midway. Must run as root.
# Usage: apt_install_quiet.sh PACKAGE...
set -euo pipefail

policy=/usr/sbin/policy-rc.d
marker="# Placed by tools/apt_install_quiet.sh while it installs packages."

mkdir -p /run/lock
exec {lock_fd}>/run/lock/echo-server-apt-install.lock
flock "$lock_fd"

placed=0
cleanup() {
  if [[ $placed -eq 1 ]]; then rm -f "$policy"; fi
}
trap cleanup EXIT

if [[ ! -e "$policy" ]] || grep -qxF "$marker" "$policy"; then
  printf '#!/bin/sh\n%s\n# 101: action forbidden by policy (no service starts).\nexit 101\n' \
    "$marker" >"$policy.new.$$"
  chmod 755 "$policy.new.$$"
  placed=1
  mv -f "$policy.new.$$" "$policy"
fi

# enabled_units: every enabled unit, read from the file system (works with
# or without systemd running, and before systemd is installed).
enabled_units() {
  if command -v systemctl >/dev/null; then
    systemctl --root=/ list-unit-files --state=enabled --no-legend --no-pager |
      awk '{print $1}' | sort -u
  fi
}

before="$(enabled_units)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
  --no-install-recommends "$@"
after="$(enabled_units)"

while read -r unit; do
  [[ -n "$unit" ]] || continue
  case "$unit" in
    *.service | *.socket | *.timer | *.path) ;;
    *) continue ;;
  esac
  owner="$(dpkg -S "/lib/systemd/system/$unit" 2>/dev/null | cut -d: -f1 || true)"
  [[ "$owner" == systemd ]] && continue
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  else
    systemctl --root=/ disable "$unit" >/dev/null 2>&1 || true
  fi
  echo "setup: disabled $unit, which installing ${owner:-a package} enabled" >&2
done < <(comm -13 <(echo "$before") <(echo "$after"))
