#!/usr/bin/env bash
# Installs the Debian package built by //deploy:deb on this machine, runs the
# installed server and talks to it with the real client, then purges the
# package and checks that nothing of it is left:
#  * dpkg -i puts every file in place, registers the flagfile as a conffile
#    and enables both units (deb-systemd-helper works without a running
#    systemd); systemd-analyze verify accepts the installed units;
#  * /usr/bin/echo-server starts from /etc/echo-server/flags, echoes for the
#    client, answers /healthz, and stops with exit 0 on SIGTERM;
#  * installed again over an edited flagfile, dpkg keeps the edit;
#  * dpkg --purge removes the files, the conffile and the enablement links;
#  * installed again with `apt-get install ./the.deb` through the set-up's
#    tools/apt_install_quiet.sh, the package installs but its units are left
#    disabled and /usr/sbin/policy-rc.d is as it was (the set-up leaves no
#    daemon enabled that the machine did not have); purged again.
# Before that, lintian must find no error in the package.
# Runs as root (dpkg), outside the sandbox, alone (tags in tests/BUILD.bazel)
# and one at a time per machine (a lock: other checkouts may run it too). It
# refuses to start if any echo-server package or file is already on the
# machine, and purges what it installed even when a check fails.
# Usage: deb_test.sh DEB CLIENT APT_INSTALL_QUIET
set -euo pipefail

deb="$(readlink -f "$1")"
client="$(readlink -f "$2")"
apt_install_quiet="$(readlink -f "$3")"

tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/deb_test.XXXXXX")"
installed=0
server_pid=""

# Everything the package puts on the machine, and what enabling adds.
files=(
  /usr/bin/echo-server
  /lib/systemd/system/echo-server.service
  /lib/systemd/system/echo-server.socket
  /etc/echo-server/flags
  /usr/share/man/man8/echo-server.8.gz
  /usr/share/doc/echo-server/changelog.Debian.gz
  /usr/share/doc/echo-server/copyright
  /usr/share/lintian/overrides/echo-server
)
links=(
  /etc/systemd/system/multi-user.target.wants/echo-server.service
  /etc/systemd/system/sockets.target.wants/echo-server.socket
)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# dpkg_waiting ARGS...: dpkg, retried while another apt/dpkg holds the lock
# (other checkouts may be installing packages), up to 10 minutes.
dpkg_waiting() {
  local rc
  for _ in $(seq 1 600); do
    rc=0
    DEBIAN_FRONTEND=noninteractive dpkg "$@" >"$tmp/dpkg.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]] && grep -q 'lock' "$tmp/dpkg.log"; then
      sleep 1
      continue
    fi
    cat "$tmp/dpkg.log"
    return $rc
  done
  cat "$tmp/dpkg.log"
  return 1
}

cleanup() {
  if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [[ $installed -eq 1 ]]; then
    dpkg_waiting --purge echo-server >&2 || echo "cleanup: dpkg --purge echo-server failed" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || fail "needs root: it installs a package with dpkg -i"

# One deb_test at a time on the machine (other checkouts may run theirs).
exec {lock_fd}>/run/lock/echo-server-deb-test.lock
flock "$lock_fd"

lintian --fail-on error "$deb" >"$tmp/lintian.log" 2>&1 ||
  fail "lintian: $(cat "$tmp/lintian.log")"
echo "lintian: no errors ($(grep -c '^W:' "$tmp/lintian.log" || true) warnings)"

# Never touch an installation that is not ours.
if dpkg-query -W -f='${Status}' echo-server 2>/dev/null | grep -q 'installed\|config-files'; then
  fail "an echo-server package is already on this machine; not touching it"
fi
for path in "${files[@]}" "${links[@]}" /etc/echo-server; do
  [[ ! -e "$path" && ! -L "$path" ]] || fail "$path already exists; not touching it"
done

# --- install -----------------------------------------------------------------------
installed=1
dpkg_waiting -i "$deb" || fail "dpkg -i $deb failed"
[[ "$(dpkg-query -W -f='${Status}' echo-server)" == "install ok installed" ]] ||
  fail "package not installed: $(dpkg-query -W -f='${Status}' echo-server)"
for path in "${files[@]}"; do
  [[ -f "$path" ]] || fail "$path not installed"
done
[[ -x /usr/bin/echo-server ]] || fail "/usr/bin/echo-server not executable"
# The package's version is the binary's (VERSION, which --version prints).
pkg_version="$(dpkg-query -W -f='${Version}' echo-server)"
bin_version="$(/usr/bin/echo-server --version | awk '{print $2}')"
[[ "${pkg_version%-*}" == "$bin_version" ]] ||
  fail "package version $pkg_version does not match the binary's $bin_version"
dpkg-query -W -f='${Conffiles}' echo-server | grep -q '^ */etc/echo-server/flags ' ||
  fail "/etc/echo-server/flags is not a conffile"
for link in "${links[@]}"; do
  [[ -L "$link" ]] || fail "$link not created: the units are not enabled"
done
grep -q '^ExecStart=/usr/bin/echo-server --flagfile=/etc/echo-server/flags$' \
  /lib/systemd/system/echo-server.service || fail "installed unit does not run /usr/bin/echo-server"
verify="$(systemd-analyze verify --man=no /lib/systemd/system/echo-server.service \
  /lib/systemd/system/echo-server.socket 2>&1 || true)"
if grep -q 'echo-server' <<<"$verify"; then
  fail "systemd-analyze verify complains about the installed units: $verify"
fi
echo "dpkg -i: files, conffile and enablement links in place; units verified"

# --- run the installed server ---------------------------------------------------------
port_file="$tmp/port"
metrics_port_file="$tmp/metrics_port"
/usr/bin/echo-server --flagfile=/etc/echo-server/flags --port=0 --port_file="$port_file" \
  --metrics_port=0 --metrics_port_file="$metrics_port_file" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  [[ -s "$port_file" && -s "$metrics_port_file" ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "installed server exited early: $(cat "$tmp/server.log")"
  sleep 0.1
done
[[ -s "$port_file" && -s "$metrics_port_file" ]] || fail "installed server wrote no port files"
reply="$(printf 'hello from the package\n' | "$client" --port_file="$port_file")" ||
  fail "client conversation failed: $reply"
grep -q '^ok .*hello from the package' <<<"$reply" || fail "no echo in the client's output: $reply"
exec {http}<>"/dev/tcp/127.0.0.1/$(cat "$metrics_port_file")"
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$http"
status="$(head -n 1 <&"$http" | tr -d '\r')"
exec {http}>&-
[[ "$status" == *" 200 "* ]] || fail "/healthz answered '$status'"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[[ $rc -eq 0 ]] || fail "installed server exited $rc after SIGTERM: $(cat "$tmp/server.log")"
echo "installed server: echoed for the client, /healthz 200, exit 0 on SIGTERM"

# --- reinstall over an edited conffile -------------------------------------------------
echo "--idle_timeout_ms=30000" >>/etc/echo-server/flags
dpkg_waiting -i "$deb" || fail "dpkg -i over the installed package failed"
grep -qx -- "--idle_timeout_ms=30000" /etc/echo-server/flags ||
  fail "reinstalling replaced the edited /etc/echo-server/flags"
for link in "${links[@]}"; do
  [[ -L "$link" ]] || fail "$link lost on reinstall"
done
echo "dpkg -i again: the edited conffile is kept, the units stay enabled"

# nothing_left: fails if anything of the package is still on the machine.
nothing_left() {
  if dpkg-query -W -f='${Status}' echo-server 2>/dev/null | grep -q 'installed\|config-files'; then
    fail "echo-server still known to dpkg after purge"
  fi
  for path in "${files[@]}" "${links[@]}" /etc/echo-server /etc/systemd/system/echo-server.service \
      /etc/systemd/system/echo-server.socket; do
    [[ ! -e "$path" && ! -L "$path" ]] || fail "$path left after dpkg --purge"
  done
  if compgen -G '/var/lib/systemd/deb-systemd-helper-*/*echo-server*' >/dev/null ||
     compgen -G '/var/lib/systemd/deb-systemd-helper-*/*/*echo-server*' >/dev/null; then
    fail "deb-systemd-helper state left after purge: $(ls -R /var/lib/systemd/deb-systemd-helper-* | grep echo-server)"
  fi
}

# --- purge ---------------------------------------------------------------------------
dpkg_waiting --purge echo-server || fail "dpkg --purge echo-server failed"
installed=0
nothing_left
echo "dpkg --purge: nothing left"

# --- apt install through the set-up's installer -------------------------------------
policy_state() {
  if [[ -e /usr/sbin/policy-rc.d ]]; then md5sum </usr/sbin/policy-rc.d; else echo absent; fi
}
policy_before="$(policy_state)"
installed=1
"$apt_install_quiet" "$deb" >"$tmp/apt.log" 2>&1 ||
  fail "apt_install_quiet.sh $deb: $(cat "$tmp/apt.log")"
[[ "$(dpkg-query -W -f='${Status}' echo-server)" == "install ok installed" ]] ||
  fail "apt-get install ./deb did not install the package: $(cat "$tmp/apt.log")"
for link in "${links[@]}"; do
  [[ ! -L "$link" ]] || fail "$link left enabled by the set-up's installer: $(cat "$tmp/apt.log")"
done
grep -q 'disabled echo-server.service' "$tmp/apt.log" ||
  fail "the installer did not report disabling the service: $(cat "$tmp/apt.log")"
[[ "$(policy_state)" == "$policy_before" ]] ||
  fail "/usr/sbin/policy-rc.d changed by the installer ($policy_before -> $(policy_state))"
echo "apt_install_quiet.sh: package installed, units left disabled, policy-rc.d as before"
dpkg_waiting --purge echo-server || fail "dpkg --purge echo-server failed"
installed=0
nothing_left
echo "dpkg --purge: nothing left"
echo "PASS"
