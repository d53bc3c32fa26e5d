#!/usr/bin/env bash
# Checks the files in deploy/ with the tools that will read them:
#  * systemd-analyze verify accepts both units without a word about them
#    (ExecStart pointed at the real server binary, since it checks that the
#    program exists), and does complain about a unit with a bad line, so the
#    silence means something;
#  * enabling either unit (systemctl --root on a scratch tree, no running
#    systemd needed) enables both: the socket in sockets.target and the
#    service in multi-user.target, so the service (and its metrics endpoint
#    and probes) starts at boot rather than on the first client;
#  * every line of the example flagfile is a flag the server knows with a
#    value it accepts (gflags silently skips unknown flags in a flagfile), and
#    the server starts from the flagfile and serves;
#  * promtool accepts the Prometheus configuration and the alerting rules it
#    loads (echo-server.rules.yml, beside it in deploy/).
# Usage: deploy_test.sh SERVER SERVICE SOCKET FLAGS PROMETHEUS_YML
set -euo pipefail

server="$(readlink -f "$1")"
service="$2"
socket="$3"
flags="$(readlink -f "$4")"
prometheus_yml="$5"

tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/deploy_test.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# --- systemd units -----------------------------------------------------------
units="$tmp/units"
mkdir -p "$units"
cp "$socket" "$units/echo-server.socket"
sed -e "s|^ExecStart=/usr/local/bin/echo-server --flagfile=/etc/echo-server/flags\$|ExecStart=$server --flagfile=$flags|" \
  "$service" > "$units/echo-server.service"
grep -q "^ExecStart=$server " "$units/echo-server.service" ||
  fail "ExecStart line of echo-server.service not as expected"

# verify SERVICE_FILE: runs systemd-analyze verify on it and the socket unit,
# printing what it says about them; fails only if systemd-analyze itself
# cannot run. --man=no: the units cite no man pages, and containers often
# ship none.
verify() {
  local output rc=0
  output="$(systemd-analyze verify --man=no "$1" "$units/echo-server.socket" 2>&1)" || rc=$?
  if [[ $rc -ne 0 && -z "$output" ]]; then fail "systemd-analyze verify exited $rc"; fi
  # Only lines about our units count; anything else is the host's business.
  grep -E "echo-server|$units" <<<"$output" || true
}

complaints="$(verify "$units/echo-server.service")"
if [[ -n "$complaints" ]]; then
  fail "systemd-analyze verify complains about the units:
$complaints"
fi
echo "systemd-analyze verify: units clean"

# Negative control: the same check must see a bad line.
sed 's|^KillSignal=SIGTERM$|KillSignal=SIGTERM\nNoSuchSetting=yes|' \
  "$units/echo-server.service" > "$units/broken-echo-server.service"
grep -q "NoSuchSetting" <<<"$(verify "$units/broken-echo-server.service")" ||
  fail "systemd-analyze verify did not report an unknown setting: the check is blind"
rm "$units/broken-echo-server.service"

# Install links: what `systemctl enable` creates for each unit, offline.
for unit in echo-server.socket echo-server.service; do
  root="$tmp/root-$unit"
  mkdir -p "$root/etc/systemd/system"
  cp "$socket" "$root/etc/systemd/system/echo-server.socket"
  cp "$service" "$root/etc/systemd/system/echo-server.service"
  systemctl --root="$root" enable "$unit" >"$tmp/enable.log" 2>&1 ||
    fail "systemctl enable $unit: $(cat "$tmp/enable.log")"
  for link in sockets.target.wants/echo-server.socket multi-user.target.wants/echo-server.service; do
    [[ -L "$root/etc/systemd/system/$link" ]] ||
      fail "systemctl enable $unit did not create $link (the service would start only on the first client):
$(cat "$tmp/enable.log")"
  done
done
echo "systemctl enable: either unit enables the socket and the service at boot"

# --- flagfile ----------------------------------------------------------------
# run_server ARGS...: starts the server on a free port, waits for its port
# file, reads the welcome line, stops it with SIGTERM and expects exit 0.
run_server() {
  local port_file="$tmp/port" log="$tmp/server.log" port="" welcome="" rc=0
  rm -f "$port_file"
  "$server" "$@" --port=0 --port_file="$port_file" 2>"$log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    if [[ -s "$port_file" ]]; then port="$(cat "$port_file")"; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    wait "$server_pid" || rc=$?
    server_pid=""
    fail "server did not start (exit $rc) with: $*
$(cat "$log")"
  fi
  exec {conn}<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to port $port with: $*"
  IFS= read -r -t 10 welcome <&"$conn" || true
  exec {conn}>&-
  kill -TERM "$server_pid"
  wait "$server_pid" || rc=$?
  server_pid=""
  [[ "$welcome" == $'welcome to server.\r' ]] ||
    fail "unexpected welcome '$welcome' with: $*"
  [[ $rc -eq 0 ]] || fail "server exited $rc after SIGTERM with: $*
$(cat "$log")"
}

# Each flag line as a command-line argument, where an unknown flag or a bad
# value is an error (exit 2) instead of being skipped.
mapfile -t flag_lines < <(grep -E '^[[:space:]]*-' "$flags" | sed -E 's/^[[:space:]]+//')
[[ ${#flag_lines[@]} -gt 0 ]] || fail "no flags in $flags"
run_server "${flag_lines[@]}"
echo "flagfile: ${#flag_lines[@]} flags known and accepted"
run_server --flagfile="$flags"
echo "flagfile: server starts from --flagfile"

# --- Prometheus configuration --------------------------------------------------
promtool check config "$prometheus_yml" >"$tmp/promtool.log" 2>&1 ||
  fail "promtool check config: $(cat "$tmp/promtool.log")"
echo "promtool: $prometheus_yml valid"
echo "PASS"
