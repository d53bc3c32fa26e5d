#!/usr/bin/env bash
# Installs everything the build needs on a Debian 12 machine, offline except for
# Debian's own package mirrors. Idempotent and fast (file checks only) once done;
# tools/bazel runs it before every Bazel command.
#
#  * Debian packages: bazel-bootstrap (Bazel 4.2.3), bazel-skylib, bazel-platforms,
#    g++, python3 (CI's test counter), clang + its sanitizer/libFuzzer runtime,
#    gnuplot (for //tools:tune charts), and the peers measured in
#    docs/PERFORMANCE.md (nodejs, python3-uvloop), haproxy (//deploy checks
#    deploy/haproxy.cfg with it).
#  * Dependency sources: Debian's source packages of abseil, gflags, glog,
#    googletest and benchmark, unpacked into third_party/src/ (git-ignored), where
#    WORKSPACE's local_repository rules find them.
set -euo pipefail

ws="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_dir="$ws/third_party/src"

# package -> file proving it is installed
declare -A packages=(
  [bazel-bootstrap]=/usr/bin/bazel-4
  [bazel-skylib]=/usr/share/bazel/tools/skylib/BUILD
  [bazel-platforms]=/usr/share/bazel/tools/platforms/BUILD
  [g++]=/usr/bin/g++
  [python3]=/usr/bin/python3
  [clang-14]=/usr/bin/clang-14
  [libclang-rt-14-dev]=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
  [gnuplot-nox]=/usr/bin/gnuplot-nox
  [nodejs]=/usr/bin/node
  [python3-uvloop]=/usr/lib/python3/dist-packages/uvloop/__init__.py
  [haproxy]=/usr/sbin/haproxy
)
# Debian source package -> folder under third_party/src (the Bazel repo name).
declare -A sources=(
  [abseil]=com_google_absl
  [gflags]=com_github_gflags_gflags
  [google-glog]=com_github_google_glog
  [googletest]=com_google_googletest
  [benchmark]=com_github_google_benchmark
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
    as_root apt-get update -qq >&2
    updated=1
  fi
}

if [[ ${#missing[@]} -gt 0 ]]; then
  apt_update_once
  echo "setup: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >&2
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
  (cd "$tmp/dl" && apt-get "${apt_opts[@]}" source --download-only -qq "${missing_src[@]}" >&2)
  mkdir -p "$src_dir"
  for pkg in "${missing_src[@]}"; do
    tarball="$(ls "$tmp/dl/${pkg}_"*.orig.tar.* | head -n 1)"
    dest="$src_dir/${sources[$pkg]}"
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xf "$tarball" -C "$dest" --strip-components=1
    basename "$tarball" > "$dest/.unpacked"
    echo "setup: unpacked $(basename "$tarball") into third_party/src/${sources[$pkg]}" >&2
  done
fi
