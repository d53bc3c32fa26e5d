#!/usr/bin/env bash
# Prints what tools/setup.sh must install before a Bazel command: `build`
# when the command only builds or runs the server and the client
# (`bazel run //server`, `bazel build //server //client`), `all` otherwise
# (tests, benchmarks, `build //...`, sanitizer and fuzz configurations).
#
# Usage: tools/setup_scope.sh BAZEL-ARGS...
set -euo pipefail

command=""
targets=0
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    --config=clang | --config=fuzz) echo all; exit 0 ;;  # clang is a test tool here
    -*) ;;
    *)
      if [[ -z "$command" ]]; then
        command="$arg"
        continue
      fi
      case "$arg" in
        //server | //server:* | //client | //client:*) targets=$((targets + 1)) ;;
        *) echo all; exit 0 ;;
      esac
      ;;
  esac
done
if [[ ( "$command" == run || "$command" == build ) && $targets -gt 0 ]]; then
  echo build
else
  echo all
fi
