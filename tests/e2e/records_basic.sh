#!/usr/bin/env bash
# The records commands end to end: init, users and roles, refusals that are
# one line on stderr with exit 1 and land in the audit chain, audit verify,
# and tampering with the database behind lfr's back (plain SQL: sqlite3, or
# psql on the PostgreSQL pass, dbsql.sh), which verify must catch and name.
# Passwords come from the environment only.
# Usage: records_basic.sh path/to/lfr   (needs the sqlite3 command, or psql)
set -u
lfr=${1:?usage: records_basic.sh LFR}
. "$(dirname "$0")/dbsql.sh"
db_ready
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; db_cleanup' EXIT
export LFR_HOME="$tmp/home"
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW
admin_pw='admin passphrase 1'
op_pw='operator passphrase 2'
fails=0 passes=0

ok() {
    echo "ok   $1"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL $1"
    [ -s "$tmp/err" ] && sed 's/^/    /' "$tmp/err" | head -10
    fails=$((fails + 1))
}

# run CMD...: run without a controlling terminal and with stdin closed, so
# that a password prompt fails instead of waiting; capture the output.
if command -v setsid >/dev/null 2>&1; then detach=(setsid -w); else detach=(); fi
run() {
    "${detach[@]}" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
}

# expect NAME STATUS TEXT CMD...: exit STATUS; for a failure exactly one
# stderr line containing TEXT, for success TEXT on stdout.
expect() {
    local name=$1 want=$2 text=$3
    shift 3
    run "$@"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit $rc, wanted $want"
    elif [ "$want" -ne 0 ] && { [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -qF -- "$text" "$tmp/err"; }; then
        bad "$name: wanted one stderr line with '$text'"
    elif [ "$want" -eq 0 ] && [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/out"; then
        bad "$name: '$text' not in the output: $(head -3 "$tmp/out")"
    else
        ok "$name"
    fi
}

# audit_has NAME PATTERN: the audit list (as admin) has a line matching PATTERN.
audit_has() {
    LFR_PASSWORD=$admin_pw run "$lfr" audit list --user admin
    if grep -qE -- "$2" "$tmp/out"; then ok "$1"; else bad "$1: no audit line matching $2"; fi
}

db_init_args
expect "init" 0 "initialised" "$lfr" init "${dbargs[@]}"
mode() { stat -c %a "$1"; }
if db_pg; then
    [ "$(mode "$LFR_HOME")" = 700 ] && [ "$(mode "$LFR_HOME/key")" = 600 ] &&
        [ "$(mode "$LFR_HOME/database")" = 600 ] && [ ! -e "$LFR_HOME/media" ] &&
        ok "home modes 700, key 600, database 600, no media folder" ||
        bad "home modes: $(ls -la "$LFR_HOME")"
else
    [ "$(mode "$LFR_HOME")" = 700 ] && [ "$(mode "$LFR_HOME/key")" = 600 ] &&
        [ "$(mode "$LFR_HOME/media")" = 700 ] && [ "$(mode "$LFR_HOME/lfr.db")" = 600 ] &&
        ok "home modes 700, key 600, media 700, db 600" || bad "home modes: $(ls -la "$LFR_HOME")"
fi
expect "init twice refused" 1 "already initialised" "$lfr" init
db_init_args
expect "init --home elsewhere" 0 "initialised" "$lfr" init --home "$tmp/other" "${dbargs[@]}"

expect "bootstrap must be an administrator" 1 "first user must be an administrator" \
    env LFR_NEW_PASSWORD="$op_pw" "$lfr" user add eve --role operator
expect "bootstrap administrator" 0 "added admin" \
    env LFR_NEW_PASSWORD="$admin_pw" "$lfr" user add admin --role administrator
expect "no second bootstrap" 2 "--user" \
    env LFR_NEW_PASSWORD="$op_pw" "$lfr" user add eve --role administrator
expect "admin adds operator" 0 "added op" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD="$op_pw" "$lfr" user add op --role operator --user admin
expect "unknown role" 2 "unknown role" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD="$op_pw" "$lfr" user add x --role root --user admin
expect "short password" 1 "at least 8" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD=short "$lfr" user add x --role operator --user admin
expect "duplicate user" 1 "already exists" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD="$op_pw" "$lfr" user add op --role auditor --user admin

expect "operator may not add users" 1 "may not user.add" \
    env LFR_PASSWORD="$op_pw" LFR_NEW_PASSWORD="$op_pw" "$lfr" user add op2 --role administrator --user op
audit_has "self-escalation refusal is audited" $'\top\tuser.add.refused\tuser:op2\t'
expect "wrong password" 1 "wrong password" \
    env LFR_PASSWORD="not the password" "$lfr" user list --user admin
audit_has "wrong password is audited" $'\tadmin\tlogin.refused\tuser:admin\t'
expect "no password and no terminal" 1 "no password" "$lfr" user list --user admin
expect "operator may not list users" 1 "may not user.list" \
    env LFR_PASSWORD="$op_pw" "$lfr" user list --user op
expect "command needs --user" 2 "--user" "$lfr" audit list
expect "user list" 0 $'op\toperator' env LFR_PASSWORD="$admin_pw" "$lfr" user list --user admin
expect "audit list --actor --action" 0 "user:op2" \
    env LFR_PASSWORD="$admin_pw" "$lfr" audit list --user admin --actor op --action user.add.refused
[ "$(wc -l <"$tmp/out")" -eq 1 ] && ok "filtered list has one line" || bad "filtered list: $(cat "$tmp/out")"
expect "audit list --from in the future" 0 "" \
    env LFR_PASSWORD="$admin_pw" "$lfr" audit list --user admin --from 2999-01-01
[ ! -s "$tmp/out" ] && ok "nothing after 2999" || bad "entries after 2999: $(cat "$tmp/out")"
expect "bad --from" 1 "not a UTC time" \
    env LFR_PASSWORD="$admin_pw" "$lfr" audit list --user admin --from yesterday
expect "unknown option" 2 "unknown option" "$lfr" audit verify --user admin

# The sharing register.
share=(--recipient "Crown Prosecution Service" --purpose "evidence for trial"
    --legal-basis "DPA 2018 s.35" --dataset "alert 3 probe image" --security "encrypted USB")
expect "sharing add" 0 "recorded sharing 1" \
    env LFR_PASSWORD="$admin_pw" "$lfr" sharing add --user admin "${share[@]}" --images 1 --date 2026-01-05
expect "operator may not record sharing" 1 "may not sharing.add" \
    env LFR_PASSWORD="$op_pw" "$lfr" sharing add --user op "${share[@]}" --images 1
expect "sharing add needs --images" 2 "--images" \
    env LFR_PASSWORD="$admin_pw" "$lfr" sharing add --user admin "${share[@]}"
expect "sharing in the future" 1 "in the future" \
    env LFR_PASSWORD="$admin_pw" "$lfr" sharing add --user admin "${share[@]}" --images 1 --date 2999-01-01
expect "sharing list" 0 $'2026-01-05T00:00:00.000Z\tCrown Prosecution Service' \
    env LFR_PASSWORD="$admin_pw" "$lfr" sharing list --user admin --from 2026-01-01 --to 2026-01-31
audit_has "sharing is audited" $'\tadmin\tsharing.add\tsharing:1\t'

# Evaluations are written by `lfr eval` through the library; here, reading.
expect "evaluation list (none yet)" 0 "" env LFR_PASSWORD="$admin_pw" "$lfr" evaluation list --user admin
[ ! -s "$tmp/out" ] && ok "no evaluations listed" || bad "evaluations listed: $(cat "$tmp/out")"
expect "evaluation show unknown" 1 "no evaluation 7" \
    env LFR_PASSWORD="$admin_pw" "$lfr" evaluation show 7 --user admin
expect "operator may not read evaluations" 1 "may not evaluation.list" \
    env LFR_PASSWORD="$op_pw" "$lfr" evaluation list --user op
expect "evaluation show bad id" 2 "not an evaluation id" \
    env LFR_PASSWORD="$admin_pw" "$lfr" evaluation show x --user admin

# No password appears in any file of the home.
if grep -rqF -e "$admin_pw" -e "$op_pw" "$LFR_HOME"; then
    bad "a password is stored in plain text in the home"
else
    ok "no password in plain text in the home"
fi

expect "audit verify" 0 "audit chain ok" "$lfr" audit verify

# An independent verifier, written from docs/RECORDS.md, agrees exactly.
src=${LFR_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
pyverify() { python3 "$src/scripts/audit-verify.py" "$LFR_HOME"; }
have_python=0
python3 -c 'import hashlib, sqlite3' 2>/dev/null && have_python=1
# It reads SQLite databases only.
db_pg && have_python=0
if [ "$have_python" = 1 ]; then
    if [ "$(pyverify)" = "$(cat "$tmp/out")" ]; then
        ok "scripts/audit-verify.py agrees: $(cat "$tmp/out")"
    else
        bad "scripts/audit-verify.py says: $(pyverify 2>&1 | head -3)"
    fi
else
    echo "skip scripts/audit-verify.py: no python3 with sqlite3, or not an embedded home"
fi

# The program cannot change the audit table by mistake ...
if db_sql "$LFR_HOME" "UPDATE audit SET detail='x' WHERE seq=2" 2>/dev/null; then
    bad "the audit table accepted an UPDATE"
else
    ok "the audit table refuses UPDATE"
fi
expect "audit verify still ok" 0 "audit chain ok" "$lfr" audit verify

# ... and a person with the file who drops the guard is caught.
db_backup "$LFR_HOME" "$tmp/backup"
db_sql "$LFR_HOME" "$(db_drop_trigger audit_no_update) UPDATE audit SET detail='x' WHERE seq=2"
expect "edited entry 2" 1 "audit entry 2:" "$lfr" audit verify
if [ "$have_python" = 1 ]; then
    out=$(pyverify)
    [ $? -eq 1 ] && [[ "$out" == "audit entry 2:"* ]] && ok "audit-verify.py names entry 2 too" ||
        bad "audit-verify.py on the edited chain: $out"
fi

db_restore "$LFR_HOME" "$tmp/backup"
db_sql "$LFR_HOME" "$(db_drop_trigger audit_no_delete) DELETE FROM audit WHERE seq=3"
expect "deleted entry 3" 1 "audit entry 3:" "$lfr" audit verify

db_restore "$LFR_HOME" "$tmp/backup"
db_sql "$LFR_HOME" "$(db_drop_trigger audit_no_update)
    UPDATE audit SET seq=1000 WHERE seq=4; UPDATE audit SET seq=4 WHERE seq=5;
    UPDATE audit SET seq=5 WHERE seq=1000"
expect "swapped entries 4 and 5" 1 "audit entry 4:" "$lfr" audit verify

db_restore "$LFR_HOME" "$tmp/backup"
last=$(db_sql "$LFR_HOME" "SELECT max(seq) FROM audit")
db_sql "$LFR_HOME" "$(db_drop_trigger audit_no_delete) DELETE FROM audit WHERE seq=$last"
expect "newest entry removed (anchor)" 1 "audit entry $last:" "$lfr" audit verify

# Records must still say what their audit entries say: an operator made an
# administrator with plain SQL is caught, naming the entry that added them.
db_restore "$LFR_HOME" "$tmp/backup"
op_seq=$(db_sql "$LFR_HOME" "SELECT seq FROM audit WHERE action='user.add' AND object='user:op'")
db_sql "$LFR_HOME" "UPDATE users SET role='administrator' WHERE name='op'"
expect "role raised outside lfr" 1 "audit entry $op_seq: user op no longer matches" "$lfr" audit verify

db_restore "$LFR_HOME" "$tmp/backup"
db_sql "$LFR_HOME" "UPDATE sharing SET n_images=0"
expect "sharing register edited outside lfr" 1 "sharing entry 1 no longer matches" "$lfr" audit verify

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
