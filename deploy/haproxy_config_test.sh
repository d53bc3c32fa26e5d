#!/usr/bin/env bash
# Usage: haproxy_config_test.sh CONFIG
# Validates CONFIG with HAProxy's own checker; -dW makes warnings fatal, so the
# config stays free of the ones HAProxy prints at every start.
set -euo pipefail
config="$1"

# Bazel's test PATH leaves out /usr/sbin, where Debian installs haproxy.
haproxy="$(PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v haproxy || true)"
if [[ -z "$haproxy" ]]; then
  echo "haproxy is not installed (tools/setup.sh installs Debian's package)" >&2
  exit 1
fi
version="$("$haproxy" -v)"
echo "${version%%$'\n'*}"
"$haproxy" -c -dW -f "$config"
