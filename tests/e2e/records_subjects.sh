#!/usr/bin/env bash
# The watchlist commands end to end: subject add (one face per image, else a
# one-line refusal that writes nothing but its audit entry), list, show
# (audited), remove (files deleted, receipt audited), watchlist stats, role
# refusals, and audit verify at the end. Needs the models ($LFR_MODELS) and
# the stills ($LFR_DATA/stills); skips (77) without them.
# Usage: records_subjects.sh path/to/lfr   (needs the sqlite3 command)
set -u
lfr=${1:?usage: records_subjects.sh LFR}
stills=${LFR_DATA:-../shared/data}/stills
if [ ! -r "$stills/obama.jpg" ] || [ ! -r "${LFR_MODELS:-models}/MobileFaceNet.tflite" ]; then
    echo "SKIP: stills or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "SKIP: the sqlite3 command is not installed (scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LFR_HOME="$tmp/home"
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW
admin_pw='admin passphrase 1'
op_pw='operator passphrase 2'
aud_pw='auditor passphrase 3'
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
count() { sqlite3 "$LFR_HOME/lfr.db" "$1"; }
media() { find "$LFR_HOME/media" -type f | wc -l; }

expect "init" 0 "initialised" "$lfr" init
expect "bootstrap" 0 "added admin" env LFR_NEW_PASSWORD="$admin_pw" "$lfr" user add admin --role administrator
expect "add operator" 0 "added op" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD="$op_pw" "$lfr" user add op --role operator --user admin
expect "add auditor" 0 "added aud" \
    env LFR_PASSWORD="$admin_pw" LFR_NEW_PASSWORD="$aud_pw" "$lfr" user add aud --role auditor --user admin

expect "add obama" 0 "added subject 1" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op CUST-001 "$stills/obama.jpg" \
    --category wanted_by_courts --reason "warrant 42" --expires 2099-12-31 --captured 2025-05-01
expect "add biden, public appeal" 0 "added subject 2" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op MISS-7 "$stills/biden.jpg" \
    --category missing-at-risk --reason "missing, vulnerable" --expires 2099-12-31 --provenance public_appeal
[ "$(media)" = 2 ] && ok "two sealed media files" || bad "media files: $(media)"

rows0=$(count "SELECT count(*) FROM subjects")
audit0=$(count "SELECT count(*) FROM audit")
expect "two faces refused" 1 "two_people.jpg: 2 faces found" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op X-1 \
    "$stills/obama.jpg" "$stills/two_people.jpg" --category suspect --reason r --expires 2099-01-01
echo "not an image" >"$tmp/notes.txt"
expect "text file refused" 1 "notes.txt: not an image that decodes: 0 faces" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op X-1 \
    "$tmp/notes.txt" --category suspect --reason r --expires 2099-01-01
expect "auditor may not add" 1 "may not subject.add" env LFR_PASSWORD="$aud_pw" "$lfr" subject add --user aud X-1 \
    "$stills/obama.jpg" --category suspect --reason r --expires 2099-01-01
[ "$(count "SELECT count(*) FROM subjects")" = "$rows0" ] && [ "$(media)" = 2 ] &&
    [ "$(count "SELECT count(*) FROM audit")" = $((audit0 + 3)) ] &&
    [ "$(count "SELECT count(*) FROM audit WHERE action='subject.add.refused'")" = 3 ] &&
    ok "refusals wrote only their audit entries" || bad "refusals wrote something"
expect "unknown category" 2 "unknown category" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op X-1 "$stills/obama.jpg" \
    --category terrorist --reason r --expires 2099-01-01
expect "expiry in the past" 1 "not in the future" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op X-1 "$stills/obama.jpg" \
    --category suspect --reason r --expires 2001-01-01
expect "duplicate reference" 1 "already on the watchlist" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op CUST-001 \
    "$stills/biden.jpg" --category suspect --reason r --expires 2099-01-01
expect "missing --category" 2 "needs --category" env LFR_PASSWORD="$op_pw" "$lfr" subject add --user op X-1 "$stills/obama.jpg" \
    --reason r --expires 2099-01-01

expect "list" 0 "CUST-001	wanted_by_courts	active	1 images" env LFR_PASSWORD="$aud_pw" "$lfr" subject list --user aud
sha=$(sha256sum "$stills/obama.jpg" | cut -d' ' -f1)
expect "show" 0 "sha256 $sha" env LFR_PASSWORD="$aud_pw" "$lfr" subject show --user aud 1
[ "$(count "SELECT count(*) FROM audit WHERE action='subject.show' AND actor='aud'")" = 1 ] &&
    ok "show is audited" || bad "show not audited"
expect "show unknown" 1 "no subject 99" env LFR_PASSWORD="$aud_pw" "$lfr" subject show --user aud 99
expect "show bad id" 2 "not an id" env LFR_PASSWORD="$aud_pw" "$lfr" subject show --user aud abc
expect "stats" 0 "wanted_by_courts	1	0	1" env LFR_PASSWORD="$aud_pw" "$lfr" watchlist stats --user aud
grep -qF "public_appeal	1" "$tmp/out" && ok "stats per provenance" || bad "stats provenance: $(cat "$tmp/out")"

expect "auditor may not remove" 1 "may not subject.remove" env LFR_PASSWORD="$aud_pw" "$lfr" subject remove --user aud 1
expect "remove" 0 "removed subject 1" env LFR_PASSWORD="$op_pw" "$lfr" subject remove --user op 1
[ "$(media)" = 1 ] && ok "its media file is deleted" || bad "media after remove: $(media)"
[ "$(count "SELECT count(*) FROM audit WHERE action='subject.remove' AND detail LIKE '%\"n_images\":1,\"sha256\":[\"$sha\"]%'")" = 1 ] &&
    ok "deletion receipt with the hash" || bad "no deletion receipt"
expect "remove twice" 1 "already removed" env LFR_PASSWORD="$op_pw" "$lfr" subject remove --user op 1
expect "list shows removed" 0 "CUST-001	wanted_by_courts	removed	0 images" env LFR_PASSWORD="$op_pw" "$lfr" subject list --user op
expect "stats after removal" 0 "removed_subjects	1" env LFR_PASSWORD="$op_pw" "$lfr" watchlist stats --user op

# Expiry, by the store's clock.
expect "expired after the date" 0 "MISS-7	missing_at_risk	expired" \
    env LFR_FAKE_NOW=2100-01-01 LFR_PASSWORD="$op_pw" "$lfr" subject list --user op

# (The scan for plaintext image bytes and templates is in tests/unit/test_subjects.c.)
expect "audit verify" 0 "audit chain ok" "$lfr" audit verify

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
