# Sourced by the e2e scripts that reach the database behind lfr's back, so
# that they run on either backend: embedded homes by default, PostgreSQL
# ones when LFR_TEST_BACKEND=postgresql (a database of their own on the
# server in LFR_PG_TEST, as scripts/pg-test-server.sh provides; CTest
# registers such scripts twice, the second as e2e_<name>_pg).
#
#   db_ready           exit 77 (SKIP, with the reason) when the pass cannot run
#   db_init_args       sets dbargs, the arguments `lfr init` needs: none, or
#                      --database S for a new database
#   db_sql HOME SQL    run SQL on HOME's database (sqlite3, or psql), print
#                      the rows, one a line, fields separated by '|'
#   db_drop_trigger T  the statement that drops trigger T of table audit
#   db_backup HOME B   copy HOME (folder and database) to B
#   db_restore HOME B  make HOME again what db_backup saved in B
#   db_cleanup         drop the databases made (the caller's EXIT trap)

db_pg() { [ "${LFR_TEST_BACKEND:-}" = postgresql ] || [ "${LFR_TEST_BACKEND:-}" = pg ]; }

db_ready() {
    if db_pg; then
        if [ -z "${LFR_PG_TEST:-}" ]; then
            echo "SKIP: PostgreSQL pass: ${LFR_PG_SKIP:-LFR_PG_TEST is not set (scripts/pg-test-server.sh)}"
            exit 77
        fi
        command -v psql >/dev/null 2>&1 || { echo "SKIP: psql not installed"; exit 77; }
    elif ! command -v sqlite3 >/dev/null 2>&1; then
        echo "SKIP: the sqlite3 command is not installed (scripts/setup.sh)"
        exit 77
    fi
}

db_made=()
db_n=0
# A new database's name and connection string, in db_name and db_conn.
db_new() {
    db_n=$((db_n + 1))
    db_name="lfr_e2e_$$_$db_n"
    psql -X -q -v ON_ERROR_STOP=1 "$LFR_PG_TEST" -c "CREATE DATABASE $db_name" >/dev/null || return 1
    db_made+=("$db_name")
    db_conn="$(echo "$LFR_PG_TEST" | sed 's/dbname=[^ ]*//') dbname=$db_name"
}

db_init_args() {
    dbargs=()
    if db_pg; then
        db_new || return 1
        dbargs=(--database "$db_conn")
    fi
}

db_conninfo() { head -n 1 "$1/database"; }

db_sql() {
    if db_pg; then
        psql -X -q -At -v ON_ERROR_STOP=1 "$(db_conninfo "$1")" -c "SET client_min_messages = warning" -c "$2"
    else
        sqlite3 "$1/lfr.db" "$2"
    fi
}

db_drop_trigger() {
    if db_pg; then echo "DROP TRIGGER $1 ON audit;"; else echo "DROP TRIGGER $1;"; fi
}

db_name_of() { db_conninfo "$1" | sed -n 's/.*dbname=\([^ ]*\).*/\1/p'; }

db_backup() {
    cp -a "$1" "$2"
    if db_pg; then
        local src dst
        src=$(db_name_of "$1")
        dst="${src}_bak"
        PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$LFR_PG_TEST" \
            -c "DROP DATABASE IF EXISTS $dst" \
            -c "CREATE DATABASE $dst TEMPLATE $src" >/dev/null
        db_made+=("$dst")
    fi
}

db_restore() {
    rm -rf "$1" && cp -a "$2" "$1"
    if db_pg; then
        local name
        name=$(db_name_of "$1")
        psql -X -q -v ON_ERROR_STOP=1 "$LFR_PG_TEST" -c "DROP DATABASE $name WITH (FORCE)" \
            -c "CREATE DATABASE $name TEMPLATE ${name}_bak" >/dev/null
    fi
}

db_cleanup() {
    local d
    for d in "${db_made[@]}"; do
        psql -X -q "$LFR_PG_TEST" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
    done
}
