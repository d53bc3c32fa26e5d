#!/usr/bin/env bash
# Checks deploy/echo-server.rules.yml with Prometheus's own tool:
#  * `promtool check rules` accepts it;
#  * `promtool test rules` passes tests/echo-server.rules_test.yml, where each
#    alert fires on the series it is about and stays quiet on healthy ones;
#  * every alert's test is live: with that alert renamed away, the unit
#    tests fail (so none of them passes by expecting nothing).
# Usage: alerts_test.sh RULES RULES_TEST
set -euo pipefail

rules="$1"
rules_test="$2"

tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/alerts_test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

promtool check rules "$rules" >"$tmp/check.log" 2>&1 ||
  fail "promtool check rules: $(cat "$tmp/check.log")"
echo "promtool check rules: $(grep -o '[0-9]* rules found' "$tmp/check.log")"

# The test file names the rules file by its base name, next to it.
cp "$rules_test" "$tmp/echo-server.rules_test.yml"
cp "$rules" "$tmp/echo-server.rules.yml"
(cd "$tmp" && promtool test rules echo-server.rules_test.yml) >"$tmp/test.log" 2>&1 ||
  fail "promtool test rules: $(cat "$tmp/test.log")"
echo "promtool test rules: passed"

mapfile -t alerts < <(sed -n -E 's/^ *- alert: *([A-Za-z0-9_]+) *$/\1/p' "$rules")
[[ ${#alerts[@]} -ge 6 ]] || fail "expected at least 6 alerts, found ${#alerts[@]}"
for alert in "${alerts[@]}"; do
  grep -q "alertname: $alert\$" "$rules_test" || fail "no unit test for $alert"
  sed -E "s/^( *- alert: *)$alert *\$/\1${alert}Renamed/" "$rules" >"$tmp/echo-server.rules.yml"
  if (cd "$tmp" && promtool test rules echo-server.rules_test.yml) >/dev/null 2>&1; then
    fail "the unit tests still pass with $alert renamed away: its test asserts nothing"
  fi
done
echo "every alert's test fails without it: ${alerts[*]}"
echo "PASS"
