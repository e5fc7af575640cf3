#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: initdb into a temporary
# folder, pg_ctl start listening only on a Unix socket in that folder (no
# TCP), a database "lfrtest", and everything stopped and removed at the end.
#
#   scripts/pg-test-server.sh [--durable] COMMAND [ARG...]
#       start a server, run COMMAND with LFR_PG_TEST set to its connection
#       string, then stop the server and remove its folder (also on error or
#       Ctrl-C); exits with COMMAND's status
#   scripts/pg-test-server.sh [--durable]
#       start a server, print the connection string, wait until interrupted
#       (Ctrl-C, SIGTERM), then stop and remove it
#
# The server runs as an unprivileged account: the invoking user, or, when
# run as root (PostgreSQL refuses to run as root), the account `lfrtest`,
# created here with useradd (a system account without a home or a login
# shell) if it does not exist. The folder is mode 0700 and owned by that
# account; clients authenticate by the socket's folder permissions
# (trust on the local socket only), so only that account and root connect.
#
# By default the server trades durability for speed (fsync, synchronous
# commit and full-page writes off): the tests check behaviour, not what
# survives a power cut. --durable keeps PostgreSQL's defaults, for
# benchmarks (bench/store_writers).
#
# When PostgreSQL cannot start (not installed: scripts/setup.sh installs
# Debian's postgresql; no useradd; initdb fails), COMMAND still runs, with
# LFR_PG_TEST unset and LFR_PG_SKIP set to the reason, so that tests of the
# PostgreSQL backend say SKIP with that reason.
#
# Environment:
#   LFR_PG_BINDIR   folder holding initdb and pg_ctl (default: found under
#                   /usr/lib/postgresql/*/bin, else on PATH)
#   LFR_PG_USER     the account when run as root (default lfrtest)
#   TMPDIR          where the temporary folder goes
set -uo pipefail

durable=0
if [[ "${1:-}" == --durable ]]; then
    durable=1
    shift
fi
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

say() { echo "pg-test-server: $*" >&2; }

# run_or_skip REASON: no server; run the command (if any) with the reason.
run_or_skip() {
    say "SKIP PostgreSQL: $1"
    unset LFR_PG_TEST
    export LFR_PG_SKIP="$1"
    if (($# > 1)); then
        shift
        exec "$@"
    fi
    exit 1
}

bindir="${LFR_PG_BINDIR:-}"
if [[ -z "$bindir" ]]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            bindir="$d"
            break
        fi
    done
fi
if [[ -z "$bindir" ]] && command -v initdb >/dev/null 2>&1; then
    bindir="$(dirname "$(command -v initdb)")"
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" || ! -x "$bindir/pg_ctl" ]]; then
    run_or_skip "initdb and pg_ctl not found (install Debian's postgresql: scripts/setup.sh)" "$@"
fi

# as_owner CMD...: run CMD as the account that owns the server.
owner="$(id -un)"
as_owner() { "$@"; }
if [[ "$(id -u)" == 0 ]]; then
    owner="${LFR_PG_USER:-lfrtest}"
    if ! id -u "$owner" >/dev/null 2>&1; then
        if ! useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$owner" 2>/dev/null; then
            run_or_skip "running as root and cannot create the account $owner (useradd)" "$@"
        fi
    fi
    if command -v runuser >/dev/null 2>&1; then
        as_owner() { runuser -u "$owner" -- "$@"; }
    else
        as_owner() { su -s /bin/sh "$owner" -c "$(printf '%q ' "$@")"; }
    fi
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/lfr-pg-XXXXXX")" || run_or_skip "mktemp failed" "$@"
chmod 0700 "$dir"
[[ "$owner" != "$(id -un)" ]] && chown "$owner" "$dir"

stop() {
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! as_owner "$bindir/initdb" -D "$dir/data" -U "$owner" --auth-local=trust \
    --auth-host=reject -E UTF8 --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    trap - EXIT
    stop
    run_or_skip "initdb failed (see above)" "$@"
fi

opts="-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200"
if ((durable == 0)); then
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 \
    start >/dev/null; then
    cat "$dir/server.log" >&2
    trap - EXIT
    stop
    run_or_skip "pg_ctl start failed (see above)" "$@"
fi

conninfo="host=$dir port=5432 user=$owner dbname=lfrtest"
if ! as_owner "$bindir/createdb" -h "$dir" lfrtest 2>"$dir/createdb.err"; then
    cat "$dir/createdb.err" >&2
    run_or_skip "cannot create the database lfrtest" "$@"
fi
export LFR_PG_TEST="$conninfo"
unset LFR_PG_SKIP

if (($# == 0)); then
    echo "$conninfo"
    say "running ($(((durable)) && echo durable || echo fast)); Ctrl-C stops and removes it"
    while :; do sleep 3600; done
fi
"$@"
