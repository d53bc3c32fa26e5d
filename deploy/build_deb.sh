#!/usr/bin/env bash
# Builds echo-server_<version>_<arch>.deb with Debian's own tools: the
# stripped server as /usr/bin/echo-server, the units in /lib/systemd/system
# (ExecStart pointed at /usr/bin), the flagfile as the conffile
# /etc/echo-server/flags, the man page, the changelog and copyright, the
# maintainer scripts and lintian's overrides. dpkg-shlibdeps computes
# Depends, dpkg-gencontrol writes the control file (version from
# debian/changelog), dpkg-deb builds with root-owned files and timestamps
# from the changelog (reproducible).
# Usage: build_deb.sh OUT VERSION ARCH SERVER SERVICE SOCKET FLAGS MANPAGE DEBIAN_DIR
set -euo pipefail

out="$1"
version="$2"
arch="$3"
server="$4"
service="$5"
socket="$6"
flags="$7"
manpage="$8"
debian="$9"

fail() {
  echo "build_deb.sh: $*" >&2
  exit 1
}

changelog_version="$(dpkg-parsechangelog -l "$debian/changelog" -S Version)"
[[ "$changelog_version" == "$version" ]] ||
  fail "deploy/BUILD.bazel says version $version, debian/changelog says $changelog_version"
[[ "$(dpkg --print-architecture)" == "$arch" ]] ||
  fail "building for $arch on a $(dpkg --print-architecture) machine"
SOURCE_DATE_EPOCH="$(date -u -d "$(dpkg-parsechangelog -l "$debian/changelog" -S Date)" +%s)"
export SOURCE_DATE_EPOCH

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"
umask 022

install -D -m 755 "$server" "$pkg/usr/bin/echo-server"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/echo-server"

install -d "$pkg/lib/systemd/system"
sed 's|^ExecStart=/usr/local/bin/echo-server |ExecStart=/usr/bin/echo-server |' "$service" \
  >"$pkg/lib/systemd/system/echo-server.service"
grep -q '^ExecStart=/usr/bin/echo-server --flagfile=/etc/echo-server/flags$' \
  "$pkg/lib/systemd/system/echo-server.service" ||
  fail "echo-server.service: ExecStart not as expected"
install -m 644 "$socket" "$pkg/lib/systemd/system/echo-server.socket"
chmod 644 "$pkg/lib/systemd/system/echo-server.service"

install -D -m 644 "$flags" "$pkg/etc/echo-server/flags"

install -d "$pkg/usr/share/man/man8" "$pkg/usr/share/doc/echo-server"
gzip -9 -n -c "$manpage" >"$pkg/usr/share/man/man8/echo-server.8.gz"
gzip -9 -n -c "$debian/changelog" >"$pkg/usr/share/doc/echo-server/changelog.Debian.gz"
install -m 644 "$debian/copyright" "$pkg/usr/share/doc/echo-server/copyright"
install -D -m 644 "$debian/lintian-overrides" "$pkg/usr/share/lintian/overrides/echo-server"
chmod 644 "$pkg/usr/share/man/man8/echo-server.8.gz" \
  "$pkg/usr/share/doc/echo-server/changelog.Debian.gz"

install -d "$pkg/DEBIAN"
for script in postinst prerm postrm; do
  install -m 755 "$debian/$script" "$pkg/DEBIAN/$script"
done
install -m 644 "$debian/conffiles" "$pkg/DEBIAN/conffiles"

# dpkg-shlibdeps and dpkg-gencontrol expect a source tree's debian/.
mkdir -p "$work/src/debian"
cp "$debian/control" "$debian/changelog" "$work/src/debian/"
(
  cd "$work/src"
  dpkg-shlibdeps -Tdebian/substvars "$pkg/usr/bin/echo-server"
  dpkg-gencontrol -pecho-server -Tdebian/substvars -fdebian/files -P"$pkg"
)
grep -q '^Depends: .*libc6' "$pkg/DEBIAN/control" ||
  fail "dpkg-shlibdeps found no dependencies: $(cat "$pkg/DEBIAN/control")"

(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$work/md5sums"
install -m 644 "$work/md5sums" "$pkg/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
