#!/usr/bin/env bash
# Keeps deploy/echo-server.service hardened, and the hardening compatible with
# the server:
#  * `systemd-analyze security --offline=true` scores the unit at most 2.5
#    (the exposure it started from was 7.2);
#  * every system call the real server makes while it serves (start-up from
#    the shipped flagfile, client sessions from the real client binary, the
#    metrics endpoint scraped, SIGTERM and the graceful stop), recorded with
#    strace, is one the unit's SystemCallFilter= lines allow, so the filter
#    does not kill the service. This runs without systemd as PID 1; a check
#    with a forbidden call (mount) shows the comparison is not blind;
#  * every socket family it opens is in RestrictAddressFamilies=.
# Usage: systemd_security_test.sh SERVER CLIENT SERVICE FLAGS
set -euo pipefail

server="$(readlink -f "$1")"
client="$(readlink -f "$2")"
service="$3"
flags="$(readlink -f "$4")"
max_exposure="2.5"

tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/systemd_security_test.XXXXXX")"
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

# --- exposure score ------------------------------------------------------------
cp "$service" "$tmp/echo-server.service"
(cd "$tmp" && systemd-analyze security --offline=true --no-pager echo-server.service) \
  >"$tmp/security.log" 2>&1 || true
score="$(sed -n 's/.*Overall exposure level for echo-server.service: \([0-9.]*\) .*/\1/p' \
  "$tmp/security.log")"
[[ -n "$score" ]] || fail "no exposure level in systemd-analyze's output:
$(cat "$tmp/security.log")"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
  fail "exposure level $score is above $max_exposure:
$(grep '✗' "$tmp/security.log")"
echo "systemd-analyze security: exposure $score (at most $max_exposure)"

# --- system calls ----------------------------------------------------------------
# expand NAME: the system calls of a @group (recursively), or NAME itself.
declare -A expanded=()
expand() {
  local name="$1" line
  if [[ "$name" != @* ]]; then echo "$name"; return; fi
  [[ -z "${expanded[$name]:-}" ]] || return 0
  expanded[$name]=1
  while read -r line; do
    [[ -z "$line" || "$line" == \#* || "$line" == "$name" ]] && continue
    expand "$line"
  done < <(systemd-analyze syscall-filter --no-pager "$name")
}

# The allowed set, as systemd builds it: the first allow list, minus every
# "~" list after it.
allowed="$tmp/allowed"
denied="$tmp/denied"
: >"$allowed"
: >"$denied"
mapfile -t filters < <(sed -n 's/^SystemCallFilter=//p' "$service")
[[ ${#filters[@]} -gt 0 ]] || fail "no SystemCallFilter= in $service"
for filter in "${filters[@]}"; do
  if [[ "$filter" == \~* ]]; then
    for name in ${filter#\~}; do expanded=(); expand "$name" >>"$denied"; done
  else
    for name in $filter; do expanded=(); expand "$name" >>"$allowed"; done
  fi
done
sort -u "$allowed" -o "$allowed"
sort -u "$denied" -o "$denied"
comm -23 "$allowed" "$denied" >"$tmp/effective"
grep -qx epoll_wait "$tmp/effective" || fail "the allowed set is implausible (no epoll_wait)"
grep -qx mount "$tmp/effective" && fail "the allowed set is implausible (mount allowed)"
echo "SystemCallFilter: $(wc -l <"$tmp/effective") system calls allowed"

port_file="$tmp/port"
metrics_port_file="$tmp/metrics_port"
trace="$tmp/trace"
# LeakSanitizer cannot work under ptrace: off for this run in an ASan build
# (ignored by other builds); leaks are the other tests' business.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  strace -f -qq -o "$trace" "$server" --flagfile="$flags" --port=0 --port_file="$port_file" \
  --metrics_port=0 --metrics_port_file="$metrics_port_file" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  [[ -s "$port_file" && -s "$metrics_port_file" ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "server exited early: $(cat "$tmp/server.log")"
  sleep 0.1
done
[[ -s "$port_file" && -s "$metrics_port_file" ]] || fail "server did not write its port files"
metrics_port="$(cat "$metrics_port_file")"
# SIGTERM goes to the server itself, strace's child (strace would detach).
traced_pid="$(ps -o pid= --ppid "$server_pid" | tr -d ' ')"
[[ -n "$traced_pid" ]] || fail "cannot find the traced server's process"

reply="$(printf 'hello\n' | "$client" --port_file="$port_file")" ||
  fail "client conversation failed: $reply"
grep -q '^ok .*hello' <<<"$reply" || fail "no echo in the client's output: $reply"
"$client" --port_file="$port_file" --load --connections=8 --requests=2000 >"$tmp/load.log" 2>&1 ||
  fail "load run failed: $(cat "$tmp/load.log")"
for path in metrics healthz readyz; do
  exec {http}<>"/dev/tcp/127.0.0.1/$metrics_port"
  printf 'GET /%s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n' "$path" >&"$http"
  status="$(head -n 1 <&"$http" | tr -d '\r')"
  cat <&"$http" >/dev/null
  exec {http}>&-
  [[ "$status" == *" 200 "* ]] || fail "/$path answered '$status'"
done
kill -TERM "$traced_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[[ $rc -eq 0 ]] || fail "server exited $rc after SIGTERM: $(cat "$tmp/server.log")"

# strace lines: "PID name(args) = result", or "<... name resumed>" for a call
# split across threads; the first form names every call made.
sed -n -E 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$trace" | sort -u >"$tmp/used"
[[ $(wc -l <"$tmp/used") -gt 20 ]] || fail "implausibly few system calls traced: $(cat "$tmp/used")"
# execve is the launcher's (strace's) call that starts the server, made
# before systemd would apply the filter.
forbidden="$(grep -vx execve "$tmp/used" | comm -23 - "$tmp/effective")"
[[ -z "$forbidden" ]] || fail "the server makes system calls the unit's filter forbids:
$forbidden"
echo "strace: the $(wc -l <"$tmp/used") system calls the server made are all allowed"
# Negative control: the same comparison must catch a forbidden call.
[[ -n "$( (cat "$tmp/used"; echo mount) | sort -u | comm -23 - "$tmp/effective")" ]] ||
  fail "the comparison does not see a forbidden call: the check is blind"

# --- socket families ----------------------------------------------------------
allowed_families="$(sed -n 's/^RestrictAddressFamilies=//p' "$service")"
[[ -n "$allowed_families" ]] || fail "no RestrictAddressFamilies= in $service"
for family in $(sed -n -E 's/^[0-9]+ +socket\((AF_[A-Z0-9]+),.*/\1/p' "$trace" | sort -u); do
  grep -qw "$family" <<<"$allowed_families" ||
    fail "the server opens $family sockets, not in RestrictAddressFamilies=$allowed_families"
done
echo "RestrictAddressFamilies: every socket the server opened is allowed"
echo "PASS"
