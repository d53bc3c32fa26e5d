#!/usr/bin/env bash
# tools/setup_scope.sh: building or running the server and the client asks
# for the build set only; anything else (tests, benchmarks, //..., clang and
# fuzz configurations) for everything.
set -euo pipefail
scope="$1"
failures=0
expect() {
  local want="$1"
  shift
  local got
  got="$("$scope" "$@")"
  if [[ "$got" != "$want" ]]; then
    echo "FAIL: setup_scope.sh $* -> $got, want $want"
    failures=$((failures + 1))
  fi
}
expect build run //server
expect build run //server -- --port=0 --tls_cert=x
expect build build //server //client
expect build run //client:client -- --load
expect build build --config=asan //server
expect all test //...
expect all build //...
expect all run //tools:compare
expect all build --config=clang //server
expect all build --config=fuzz //client
expect all run //server //tools:soak
expect all info
if [[ $failures -gt 0 ]]; then exit 1; fi
echo "PASS"
