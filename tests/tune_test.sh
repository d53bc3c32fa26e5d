#!/bin/bash
# //tools:tune's defaults and output: the event model's pool sizes are
# 1 ... the usable CPUs; results land in out/tune under the workspace (out/
# is git-ignored) with a header saying how they were measured; the chart
# says "1 connection", "µs", and starts the throughput axis at 0.
set -euo pipefail

tune=$(readlink -f "$1")
ws="${TEST_TMPDIR:-/tmp}/workspace"
mkdir -p "$ws"
cd "$ws"
# As under `bazel run`: the workspace is named, no --out_dir given.
BUILD_WORKSPACE_DIRECTORY="$ws" BUILD_WORKING_DIRECTORY="$ws" \
  "$tune" --duration_ms=150 --connections=1,2 >"$ws/stdout" 2>"$ws/stderr" || {
  echo "tune failed:"; cat "$ws/stdout" "$ws/stderr"; exit 1; }

fail() { echo "FAIL: $*"; echo "--- tune.md"; cat "$ws/out/tune/tune.md" || true; exit 1; }
md="$ws/out/tune/tune.md"
[[ -f "$md" && -f "$ws/out/tune/tune.csv" && -f "$ws/out/tune/tune.gp" ]] ||
  fail "results not in out/tune: $(ls -R "$ws")"

header=$(head -1 "$md")
grep -q "model event, 150 ms per cell" <<<"$header" || fail "no model/duration in: $header"
grep -Eq "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC" <<<"$header" || fail "no date in: $header"
grep -q "^# model event, 150 ms per cell" "$ws/out/tune/tune.csv" || fail "CSV has no header"

# The pool sizes tried: 1 ... CPUs (every size up to 8 CPUs).
cpus=$(nproc)
if ((cpus <= 8)); then
  want=$(seq -s, 1 "$cpus")
  got=$(grep -E '^\| [0-9]+ \| 1 \|' "$md" | awk -F'|' '{gsub(/ /,"",$2); print $2}' | paste -sd,)
  [[ "$got" == "$want" ]] || fail "pool sizes $got, expected $want"
fi

gp="$ws/out/tune/tune.gp"
grep -q "title '1 connection'" "$gp" || fail "chart does not say '1 connection'"
grep -q "title '2 connections'" "$gp" || fail "chart does not say '2 connections'"
grep -q "µs" "$gp" || fail "chart latency axis not in µs"
grep -q "set yrange \[0:\*\]" "$gp" || fail "throughput axis does not start at 0"
echo PASS
