#!/usr/bin/env bash
# Writes the echo-server(8) man page: a written description of how the
# package runs the server, then the server's own --help output as OPTIONS, so
# the flags documented are exactly the ones the packaged binary has.
# The server runs as "echo-server" (a symlink) so --help names it that way.
# Usage: manpage.sh SERVER CHANGELOG OUT
set -euo pipefail

server="$(readlink -f "$1")"
changelog="$2"
out="$3"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ln -s "$server" "$tmp/echo-server"

version="$(dpkg-parsechangelog -l "$changelog" -S Version)"
date="$(date -u -d "$(dpkg-parsechangelog -l "$changelog" -S Date)" +%Y-%m-%d)"

# gflags exits non-zero after --help; the text is what matters.
"$tmp/echo-server" --help >"$tmp/help" 2>&1 || true
grep -q -- 'flagfile' "$tmp/help" || {
  echo "manpage.sh: unexpected --help output:" >&2
  cat "$tmp/help" >&2
  exit 1
}

{
  cat <<EOT
.TH ECHO-SERVER 8 "$date" "echo-server $version" "System Administration"
.SH NAME
echo-server \\- thread-pool TCP echo server
.SH SYNOPSIS
.B echo-server
.RB [ \\-\\-flagfile=\\fIFILE\\fR ]
.RI [ \\-\\-flag=value " ...]"
.SH DESCRIPTION
.B echo-server
sends each client a welcome line, then answers every line the client sends
with
.B ok
followed by the line.
By default each worker thread runs its own epoll event loop
.RB ( \\-\\-model=event );
.B \\-\\-model=classic
serves each session on a thread of a pool.
.PP
The package runs it under systemd:
.B echo-server.socket
owns the listening socket (127.0.0.1:8888) and passes it to
.BR echo-server.service ,
which reads its flags from
.IR /etc/echo-server/flags .
Both units are enabled on installation, so the metrics endpoint
.RB ( \\-\\-metrics_port=9888 :
.IR /metrics ", " /healthz ", " /readyz )
is up from boot.
Under socket activation
.B \\-\\-host
and
.B \\-\\-port
do not apply; change
.B ListenStream=
in the socket unit instead
.RB ( "systemctl edit echo-server.socket" ).
.PP
SIGTERM stops it gracefully: it stops accepting, tells waiting clients
goodbye, lets running sessions finish within
.BR \\-\\-shutdown_grace_ms ,
and exits 0.
.SH OPTIONS
Flags take the form
.BR \\-\\-name=value ;
a flagfile holds one per line.
The server's
.B \\-\\-help
output follows.
.PP
.nf
EOT
  # Verbatim text: escape backslashes, and keep lines starting with a dot
  # or a quote from being read as requests.
  sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" "$tmp/help"
  cat <<'EOT'
.fi
.SH FILES
.TP
.I /etc/echo-server/flags
The flagfile the service reads (a configuration file: kept on upgrades,
removed on purge).
.TP
.I /lib/systemd/system/echo-server.socket
.TQ
.I /lib/systemd/system/echo-server.service
The units; override them with
.BR "systemctl edit" .
.SH EXIT STATUS
0 after a graceful stop; 2 for a usage error (an unknown flag or a bad
value); 1 when it cannot start (for example, the port is taken).
.SH SEE ALSO
.BR systemctl (1),
.BR systemd.socket (5),
.BR systemd.exec (5)
EOT
} >"$out"
