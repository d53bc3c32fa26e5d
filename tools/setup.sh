#!/usr/bin/env bash
# Installs what the build needs on a Debian 12 machine, offline except for
# Debian's own package mirrors. Idempotent and fast (file checks only) once
# done; tools/bazel runs it before every Bazel command.
#
# Usage: tools/setup.sh [build|all]
#   build  what building the server and the client needs: bazel-bootstrap
#          (Bazel 4.2.3), bazel-skylib, bazel-platforms, g++, python3 (CI's test
#          counter), xz-utils and bzip2 (two source tarballs are .xz and .bz2),
#          liburing-dev (--io=io_uring) and libssl-dev (TLS), and the
#          dependency sources: Debian's source packages of abseil, gflags, glog,
#          googletest, benchmark and prometheus-cpp, unpacked into
#          third_party/src/ (git-ignored), where WORKSPACE's repository rules
#          find them.
#   all    (the default) also what the tests, benchmarks and CI drive: clang
#          with its sanitizer/libFuzzer runtime, gnuplot (charts), the peers
#          measured in docs/PERFORMANCE.md (nodejs, python3-uvloop, golang-go,
#          Boost 1.81 with its Asio examples), the operations tools (systemd's
#          systemd-analyze and systemd-socket-activate, prometheus's promtool,
#          haproxy, strace for the unit's system-call filter test), openssl
#          (the TLS tests' s_client and certificates), dpkg-dev (//deploy:deb)
#          and lintian (//tests:deb_test).
# tools/bazel asks for `build` only for `bazel run` / `bazel build` of targets
# under //server and //client (tools/setup_scope.sh decides).
set -euo pipefail

ws="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_dir="$ws/third_party/src"

scope="${1:-all}"
if [[ "$scope" != build && "$scope" != all ]]; then
  echo "usage: tools/setup.sh [build|all]" >&2
  exit 2
fi

# package -> file proving it is installed: what building needs ...
declare -A packages=(
  [bazel-bootstrap]=/usr/bin/bazel-4
  [bazel-skylib]=/usr/share/bazel/tools/skylib/BUILD
  [bazel-platforms]=/usr/share/bazel/tools/platforms/BUILD
  [g++]=/usr/bin/g++
  [python3]=/usr/bin/python3
  [xz-utils]=/usr/bin/xz
  [bzip2]=/usr/bin/bzip2
  [liburing-dev]=/usr/include/liburing.h
  [libssl-dev]=/usr/include/openssl/ssl.h
)
# ... and what the tests, benchmarks and CI drive.
if [[ "$scope" == all ]]; then
  packages+=(
    [clang-14]=/usr/bin/clang-14
    [libclang-rt-14-dev]=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
    [gnuplot-nox]=/usr/bin/gnuplot-nox
    [nodejs]=/usr/bin/node
    [python3-uvloop]=/usr/lib/python3/dist-packages/uvloop/__init__.py
    [systemd]=/usr/bin/systemd-socket-activate
    [prometheus]=/usr/bin/promtool
    [haproxy]=/usr/sbin/haproxy
    [strace]=/usr/bin/strace
    [dpkg-dev]=/usr/bin/dpkg-shlibdeps
    [lintian]=/usr/bin/lintian
    [golang-go]=/usr/bin/go
    [libboost1.81-dev]=/usr/include/boost/version.hpp
    [libboost1.81-doc]=/usr/share/doc/libboost1.81-doc/examples/libs/asio/example/cpp11/echo/async_tcp_echo_server.cpp
    [openssl]=/usr/bin/openssl
  )
fi
# Debian source package -> folder under third_party/src (the Bazel repo name).
declare -A sources=(
  [abseil]=com_google_absl
  [gflags]=com_github_gflags_gflags
  [google-glog]=com_github_google_glog
  [googletest]=com_google_googletest
  [benchmark]=com_github_google_benchmark
  [prometheus-cpp]=com_github_jupp0r_prometheus_cpp
)

missing=()
for pkg in "${!packages[@]}"; do
  [[ -e "${packages[$pkg]}" ]] || missing+=("$pkg")
done
missing_src=()
for pkg in "${!sources[@]}"; do
  [[ -f "$src_dir/${sources[$pkg]}/.unpacked" ]] || missing_src+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 && ${#missing_src[@]} -eq 0 ]]; then
  exit 0
fi

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

updated=0
apt_update_once() {
  if [[ $updated -eq 0 ]]; then
    echo "setup: apt-get update" >&2
    as_root apt-get update -qq -o DPkg::Lock::Timeout=600 >&2
    updated=1
  fi
}

if [[ ${#missing[@]} -gt 0 ]]; then
  apt_update_once
  echo "setup: installing ${missing[*]}" >&2
  # Other checkouts on the machine may be installing at the same time: wait
  # for dpkg's lock instead of failing. No daemon (prometheus, haproxy) is
  # started or left enabled by the installation: see apt_install_quiet.sh.
  as_root "$ws/tools/apt_install_quiet.sh" "${missing[@]}" >&2
fi

if [[ ${#missing_src[@]} -gt 0 ]]; then
  # Source lists derived from the system's own binary sources, so the same
  # mirror (or snapshot) serves both; kept in a temp dir, never written to /etc.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/dl"
  : > "$tmp/sources.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$tmp/src-$(basename "$f")"
  done
  if [[ -f /etc/apt/sources.list ]]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$tmp/sources.list"
  fi
  apt_opts=(-o APT::Sandbox::User=root
            -o "Dir::Etc::SourceList=$tmp/sources.list"
            -o "Dir::Etc::SourceParts=$tmp"
            -o "Dir::State::Lists=$tmp/lists")
  echo "setup: fetching dependency sources: ${missing_src[*]}" >&2
  apt-get "${apt_opts[@]}" update -qq >&2
  # One package at a time: a mirror may list a version it does not serve
  # (Debian's security archive has announced a source and answered 404),
  # so when the candidate fails, every other version the lists know is tried.
  for pkg in "${missing_src[@]}"; do
    if (cd "$tmp/dl" && apt-get "${apt_opts[@]}" source --download-only -qq "$pkg" >&2); then
      continue
    fi
    fetched=0
    for version in $(apt-cache "${apt_opts[@]}" showsrc "$pkg" 2>/dev/null |
                       sed -n 's/^Version: //p' | sort -u -r -V); do
      echo "setup: retrying source package $pkg=$version" >&2
      rm -f "$tmp/dl/${pkg}_"*
      if (cd "$tmp/dl" && apt-get "${apt_opts[@]}" source --download-only -qq "$pkg=$version" >&2); then
        fetched=1
        break
      fi
    done
    if [[ $fetched -eq 0 ]]; then
      echo "setup: cannot fetch the source package $pkg from any mirror" >&2
      exit 1
    fi
  done
  mkdir -p "$src_dir"
  for pkg in "${missing_src[@]}"; do
    tarball="$(ls "$tmp/dl/${pkg}_"*.orig.tar.* | head -n 1)"
    dest="$src_dir/${sources[$pkg]}"
    # Unpacked beside the destination and renamed into place, so a build in
    # another checkout sharing third_party/src never sees a half-filled folder.
    staging="$(mktemp -d "$dest.XXXXXX")"
    chmod 755 "$staging"
    tar -xf "$tarball" -C "$staging" --strip-components=1
    basename "$tarball" > "$staging/.unpacked"
    rm -rf "$dest"
    mv "$staging" "$dest"
    echo "setup: unpacked $(basename "$tarball") into third_party/src/${sources[$pkg]}" >&2
  done
fi
