#!/bin/bash
# A tool started as bazel-bin/tools/compare, from any directory and without
# `bazel run`'s or `bazel test`'s environment, still finds the server binary
# it starts (through its runfiles tree, next to the binary).
set -euo pipefail

compare=$(readlink -f "$1")
work="${TEST_TMPDIR:-/tmp}/elsewhere"
mkdir -p "$work"
cd "$work"
# Neither the test's runfiles variables nor `bazel run`'s working directory.
out=$(env -u TEST_SRCDIR -u TEST_WORKSPACE -u RUNFILES_DIR -u RUNFILES_MANIFEST_FILE \
  -u BUILD_WORKING_DIRECTORY -u BUILD_WORKSPACE_DIRECTORY \
  "$compare" --servers=default --baseline= --connections=2 --connect_connections=2 \
  --duration_ms=200 --rounds=1 --pin=false --raw_rounds=false 2>&1) || {
  echo "compare failed outside bazel run:"; echo "$out"; exit 1; }
echo "$out"
if ! grep -q '^| ours, default flags | line | ping-pong | 2 | 1/1 | 2 |' <<<"$out"; then
  echo "FAIL: no ping-pong row for our server (server binary not found?)"
  exit 1
fi
echo PASS
