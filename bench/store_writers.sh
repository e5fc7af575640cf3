#!/usr/bin/env bash
# Concurrent writers on the store (issue 13, must-show 4): 8 client
# processes adding alerts as fast as they can for 60 s, on PostgreSQL (a
# throwaway server with PostgreSQL's durable defaults: fsync and synchronous
# commit on, started by scripts/pg-test-server.sh --durable) and on SQLite,
# in one run; the audit log verified after each.
#
#   bench/store_writers.sh [build/bench_store_writers OPTIONS...]
#
# Environment: LFR_MODELS, LFR_DATA (the stills), as for the tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LFR_MODELS="${LFR_MODELS:-$repo/models}" LFR_DATA="${LFR_DATA:-$repo/../shared/data}"
exec "$repo/scripts/pg-test-server.sh" --durable bash -c '
    set -e
    if [ -n "${LFR_PG_TEST:-}" ]; then
        psql -X -q "$LFR_PG_TEST" -c "CREATE DATABASE bench_writers" \
            -c "CREATE DATABASE bench_writers_strict"
        db="${LFR_PG_TEST/dbname=lfrtest/dbname=bench_writers}"
        echo "PostgreSQL: $(psql -X -At "$db" -c "SELECT version()" | cut -d, -f1);" \
            "fsync $(psql -X -At "$db" -c "SHOW fsync"), synchronous_commit" \
            "$(psql -X -At "$db" -c "SHOW synchronous_commit")"
        exec "$0" --database "$db" "$@"
    fi
    echo "no PostgreSQL: ${LFR_PG_SKIP:-}; SQLite only"
    exec "$0" "$@"
' "$repo/build/bench_store_writers" "$@"
