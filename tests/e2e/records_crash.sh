#!/usr/bin/env bash
# Crash safety of the records: `lfr user add` and refused logins are killed
# with SIGKILL at random moments (while hashing the password, inside the
# transaction, between the commit and the anchor update). Afterwards the
# database must open, pass PRAGMA integrity_check and `lfr audit verify`,
# and every user row must have its user.add audit entry and vice versa: a
# change and its entry are written together or not at all.
# Usage: records_crash.sh path/to/lfr   (needs the sqlite3 command)
set -u
lfr=${1:?usage: records_crash.sh LFR}
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "SKIP: the sqlite3 command is not installed (scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LFR_HOME="$tmp/home"
unset LFR_FAKE_NOW
admin_pw='admin passphrase 1'
fails=0 passes=0
ok() {
    echo "ok   $1"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}

"$lfr" init >/dev/null || { echo "FAIL init"; exit 1; }
LFR_NEW_PASSWORD=$admin_pw "$lfr" user add admin --role administrator >/dev/null ||
    { echo "FAIL bootstrap"; exit 1; }

rounds=${LFR_CRASH_ROUNDS:-40}
killed=0
for i in $(seq 1 "$rounds"); do
    # Alternate a change (user add) with a refusal (wrong password).
    if ((i % 2)); then
        LFR_PASSWORD=$admin_pw LFR_NEW_PASSWORD="user $i passphrase" \
            "$lfr" user add "u$i" --role operator --user admin </dev/null >/dev/null 2>&1 &
    else
        LFR_PASSWORD="wrong $i" "$lfr" user list --user admin </dev/null >/dev/null 2>&1 &
    fi
    pid=$!
    # 0 to ~400 ms: one argon2id hash or two take about that long here.
    sleep "0.$(printf '%03d' $((RANDOM % 400)))"
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
    wait "$pid" 2>/dev/null
done
echo "     $killed of $rounds runs killed"

check=$(sqlite3 "$LFR_HOME/lfr.db" "PRAGMA integrity_check")
[ "$check" = ok ] && ok "integrity_check" || bad "integrity_check: $check"

out=$("$lfr" audit verify 2>&1)
rc=$?
[ $rc -eq 0 ] && ok "audit verify: $(echo "$out" | head -1)" || bad "audit verify (exit $rc): $out"

# Users and their audit entries agree one for one.
users=$(sqlite3 "$LFR_HOME/lfr.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM users ORDER BY name)")
added=$(sqlite3 "$LFR_HOME/lfr.db" "SELECT group_concat(o, ' ') FROM (SELECT substr(object, 6) AS o
    FROM audit WHERE action = 'user.add' ORDER BY o)")
[ "$users" = "$added" ] && ok "every user has its audit entry and no entry lacks its user" ||
    bad "users [$users] vs user.add entries [$added]"

# The store still works after the crashes.
LFR_PASSWORD=$admin_pw LFR_NEW_PASSWORD='after the storm' "$lfr" user add survivor \
    --role auditor --user admin >/dev/null 2>&1 && "$lfr" audit verify >/dev/null 2>&1 &&
    ok "add and verify after the crashes" || bad "the store does not work after the crashes"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
