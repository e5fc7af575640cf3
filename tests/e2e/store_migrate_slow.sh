#!/usr/bin/env bash
# `lfr store migrate` end to end (issue 13, must-show 5), on PostgreSQL
# ($LFR_PG_TEST: scripts/pg-test-server.sh, as scripts/test runs ctest):
#
#  1. a demo-like home (users, a watchlist from the stills, a deployment
#     authorised by a second officer, alerts with sealed crops and
#     counters, adjudications, a disclosure, a removal, retention) is copied;
#     the copy verifies; its audit log is the home's entry for entry, then
#     the copy's own entry; the grid and FOI reports (JSON and Markdown),
#     the alert, subject and user lists and the watchlist statistics print
#     the same on both; a crop shown from the copy is the crop recorded;
#  2. a copy killed (SIGKILL) at random moments and run again finishes with
#     every table's rows once (no duplicates), and verifies;
#  3. a copy into a database that holds another store is refused;
#  4. a home of at least 500 enrolled subjects (`lfr subject import` of
#     one LFW image each of 720 people, those without exactly one face
#     refused) is copied and compared the same way.
#
# Needs the models and the face data ($LFR_MODELS, $LFR_DATA), python3 and
# psql; exits 77 (skip) without them or without a server.
# Usage: store_migrate_slow.sh path/to/lfr
set -u
lfr=${1:?usage: store_migrate_slow.sh LFR}
lfr="$(cd "$(dirname "$lfr")" && pwd)/$(basename "$lfr")"
seed=${LFR_SEED:-$(dirname "$lfr")/lfr_seed}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ -z "${LFR_PG_TEST:-}" ]; then
    echo "SKIP: no PostgreSQL server: ${LFR_PG_SKIP:-LFR_PG_TEST is not set (scripts/pg-test-server.sh)}"
    exit 77
fi
if [ ! -r "$data/stills/obama.jpg" ] || [ ! -d "$data/lfw" ] || [ ! -r "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: stills, LFW or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
for c in python3 psql sqlite3; do
    command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not found"; exit 77; }
done
tmp=$(mktemp -d)
dbs=()
cleanup() {
    for d in "${dbs[@]}"; do psql -X -q "$LFR_PG_TEST" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1; done
    rm -rf "$tmp"
}
trap cleanup EXIT
unset LFR_HOME LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW
export LFR_MODELS=$models TMPDIR=$tmp
pw='a demo passphrase'
export LFR_PASSWORD=$pw LFR_NEW_PASSWORD=$pw
fails=0 passes=0
ok() {
    echo "ok   $1"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
die() {
    echo "FAIL $1"
    exit 1
}

# A new database on the test server; its connection string in $DB.
n_db=0
new_db() {
    n_db=$((n_db + 1))
    local name="lfr_mig_$$_$n_db"
    psql -X -q "$LFR_PG_TEST" -c "CREATE DATABASE $name" >/dev/null || die "CREATE DATABASE"
    dbs+=("$name")
    DB=$(python3 - "$LFR_PG_TEST" "$name" <<'PY'
import sys
parts = [p for p in sys.argv[1].split() if not p.startswith("dbname=")]
print(" ".join(parts + ["dbname=" + sys.argv[2]]))
PY
)
}

at() { export LFR_FAKE_NOW=$1; }
L() { # HOME ARGS...: lfr on HOME, quietly; fails the test on error
    local home=$1
    shift
    "$lfr" "$@" --home "$home" >"$tmp/out" 2>"$tmp/err" || die "lfr $*: $(cat "$tmp/err")"
}

# ---- 1. A demo-like home ----------------------------------------------------------------
H=$tmp/demo
at 2026-05-01T08:00:00Z
"$lfr" init --home "$H" >/dev/null || die "init"
L "$H" user add admin --role administrator
L "$H" user add operator --role operator --user admin
L "$H" user add inspector --role authorising_officer --user admin
L "$H" user add auditor --role auditor --user admin
i=0
for s in obama biden lin-manuel-miranda alex-lacamoire; do
    f=$data/stills/$s.jpg
    [ -r "$f" ] || f=$data/stills/$s.png
    cats=(wanted_by_courts suspect missing_at_risk witness)
    L "$H" subject add "DEMO-$i" "$f" --category "${cats[$i]}" --reason "demo watchlist" \
        --expires 2027-01-01 --user operator
    i=$((i + 1))
done
L "$H" subject list --user operator
L "$H" deployment create --purpose "Demo deployment" --justification "wanted people expected" \
    --legal-basis "common law policing" --location "High Street" --lat 51.48 --lon -3.18 \
    --installation mobile_unit --start 2026-05-01T09:00:00Z --end 2026-05-01T17:00:00Z \
    --threshold 0.5 --camera north=rtsp://example.invalid/n --camera south=rtsp://example.invalid/s \
    --dpia DPIA-1 --eia EIA-1 --user operator
L "$H" deployment authorise 1 --user inspector
at 2026-05-01T09:05:00Z
L "$H" deployment start 1 --user operator
head -c 3000 /dev/urandom >"$tmp/crop1.jpg"
head -c 2000 /dev/urandom >"$tmp/crop2.jpg"
imgs=$(python3 -c "print(' '.join(str(i) for i in range(1, 5)))")
{
    echo "count 1 north 2500 3 900 210 12"
    echo "count 1 south 2400 1 800 190 9"
    echo "alert 1 north 1 0.71 2026-05-01T10:00:00Z 11 $tmp/crop1.jpg"
    echo "alert 1 south 2 0.66 2026-05-01T11:00:00Z 12 $tmp/crop2.jpg"
    echo "alert 1 north 3 0.93 2026-05-01T12:00:00Z 13"
} | LFR_HOME=$H "$seed" operator >"$tmp/out" 2>"$tmp/err" || die "lfr_seed: $(cat "$tmp/err")"
L "$H" alert adjudicate 1 --outcome confirmed_true --engagement arrested --note "at the scene" --user operator
L "$H" alert adjudicate 2 --outcome false --user operator
at 2026-05-01T16:00:00Z
L "$H" deployment stop 1 --user operator
L "$H" sharing add --recipient "Court" --purpose "evidence" --legal-basis "CPIA 1996" \
    --dataset "alert 1 crop" --images 1 --security "encrypted" --date 2026-05-01 --user admin
L "$H" subject remove 4 --user operator
at 2026-05-03T12:00:00Z
L "$H" retention run --user admin
L "$H" audit verify
echo "     demo home: $(cat "$tmp/out")"

# Everything a person reads, from one home, at one clock.
views() { # HOME OUT
    local home=$1 out=$2
    at 2026-06-01T12:00:00Z
    {
        for f in json md; do
            echo "== grid $f"
            "$lfr" report grid --user auditor --home "$home" --format "$f" --from 2026-01-01 --to 2026-12-31
            echo "== foi $f"
            "$lfr" report foi --user auditor --home "$home" --format "$f" --from 2026-01-01 --to 2026-12-31
        done
        echo "== alerts"
        "$lfr" alert list --user auditor --home "$home"
        echo "== subjects"
        "$lfr" subject list --user auditor --home "$home"
        echo "== stats"
        "$lfr" watchlist stats --user auditor --home "$home"
        echo "== users"
        "$lfr" user list --user admin --home "$home"
        echo "== deployment"
        "$lfr" deployment show 1 --user auditor --home "$home" 2>&1
        echo "== sharing"
        "$lfr" sharing list --user auditor --home "$home"
    } >"$out" 2>&1
}
# The audit log as listed, up to entry N.
audit_upto() { # HOME N OUT
    "$lfr" audit list --user admin --home "$1" | awk -F'\t' -v n="$2" '$1 <= n' >"$3"
}

compare_homes() { # LABEL OLD NEW
    local label=$1 old=$2 new=$3
    local n
    n=$("$lfr" audit verify --home "$old" | sed -n 's/^audit chain ok: \([0-9]*\) entries.*/\1/p')
    audit_upto "$old" "$n" "$tmp/a.old"
    audit_upto "$new" "$n" "$tmp/a.new"
    if cmp -s "$tmp/a.old" "$tmp/a.new" && [ "$(wc -l <"$tmp/a.old")" -eq "$n" ]; then
        ok "$label: the copy's audit entries 1 to $n are the home's, entry for entry"
    else
        bad "$label: audit logs differ: $(diff "$tmp/a.old" "$tmp/a.new" | head -5)"
    fi
    "$lfr" audit list --user admin --home "$new" --from 2000-01-01 --action store.copy >"$tmp/copy.entry"
    [ "$(wc -l <"$tmp/copy.entry")" -eq 1 ] && [ "$(cut -f1 "$tmp/copy.entry")" -eq $((n + 1)) ] &&
        ok "$label: then one store.copy entry ($(cut -f6 "$tmp/copy.entry" | cut -c1-60)...)" ||
        bad "$label: store.copy entries: $(cat "$tmp/copy.entry")"
    views "$old" "$tmp/v.old"
    views "$new" "$tmp/v.new"
    if cmp -s "$tmp/v.old" "$tmp/v.new"; then
        ok "$label: grid and FOI reports (JSON, Markdown), alerts, subjects, statistics, users, sharing: the same ($(wc -l <"$tmp/v.old") lines)"
    else
        bad "$label: the copy reads differently: $(diff "$tmp/v.old" "$tmp/v.new" | head -8)"
    fi
}

new_db
D1=$DB
at 2026-06-01T12:00:00Z
t0=$(date +%s%N)
"$lfr" store migrate --from "$H" --to "$D1" --home "$tmp/demo-pg" >"$tmp/out" 2>"$tmp/err" &&
    ok "migrate: $(cat "$tmp/out")" || die "migrate: $(cat "$tmp/err")"
t_copy=$((($(date +%s%N) - t0) / 1000000))
"$lfr" audit verify --home "$tmp/demo-pg" >"$tmp/out" 2>&1 &&
    ok "the copy verifies: $(cat "$tmp/out")" || bad "the copy: $(cat "$tmp/out")"
[ ! -e "$tmp/demo-pg/lfr.db" ] && [ ! -e "$tmp/demo-pg/media" ] &&
    [ "$(stat -c %a "$tmp/demo-pg/database")" = 600 ] && cmp -s "$H/key" "$tmp/demo-pg/key" &&
    ok "the new home holds the key, the connection string (600) and no records or media" ||
    bad "the new home: $(ls -la "$tmp/demo-pg")"
# Run again (nothing changed since): the copy is found and only checked.
"$lfr" store migrate --from "$H" --to "$D1" --home "$tmp/demo-pg" >"$tmp/out" 2>&1 &&
    grep -q "already copied" "$tmp/out" && ok "run again: $(cut -c1-60 "$tmp/out")..." ||
    bad "run again: $(cat "$tmp/out")"
compare_homes demo "$H" "$tmp/demo-pg"
"$lfr" alert show 2 --user operator --home "$tmp/demo-pg" --crop "$tmp/crop2.back" >/dev/null 2>&1 &&
    cmp -s "$tmp/crop2.jpg" "$tmp/crop2.back" &&
    ok "a crop shown from the copy is the crop recorded" || bad "crop from the copy"
n_media=$(psql -X -At "$D1" -c "SELECT count(*) FROM media")
n_files=$(ls "$H/media" | wc -l)
[ "$n_media" -eq "$n_files" ] && ok "sealed media: $n_media in the database, as in media/" ||
    bad "sealed media: $n_media rows, $n_files files"

# ---- 2. Killed and run again -----------------------------------------------------------------
counts() { # CONNINFO: rows per table
    psql -X -At "$1" -c "SELECT 'users', count(*) FROM users UNION ALL SELECT 'audit', count(*) FROM audit
        UNION ALL SELECT 'subjects', count(*) FROM subjects UNION ALL SELECT 'images', count(*) FROM images
        UNION ALL SELECT 'alerts', count(*) FROM alerts UNION ALL SELECT 'media', count(*) FROM media
        UNION ALL SELECT 'snapshot_images', count(*) FROM snapshot_images" 2>/dev/null | tr '\n' ' '
}
# The home's rows per table, as the copy should hold them (audit: one more).
source_counts() { # HOME
    sqlite3 "$1/lfr.db" "SELECT 'users', count(*) FROM users UNION ALL
        SELECT 'audit', count(*) + 1 FROM audit UNION ALL SELECT 'subjects', count(*) FROM subjects
        UNION ALL SELECT 'images', count(*) FROM images UNION ALL SELECT 'alerts', count(*) FROM alerts
        UNION ALL SELECT 'media', $(ls "$1/media" | wc -l)
        UNION ALL SELECT 'snapshot_images', count(*) FROM snapshot_images" | tr '\n' ' '
}
new_db
D2=$DB
left=()
kills=0
seed_rng=${LFR_CRASH_SEED:-$$}
echo "     kill times from seed $seed_rng, within ${t_copy} ms (one copy's time)"
RANDOM=$seed_rng
for round in $(seq 1 12); do
    "$lfr" store migrate --from "$H" --to "$D2" --home "$tmp/kill-pg" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    # Somewhere within one uninterrupted copy's time.
    ms=$((RANDOM % (t_copy + 1)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ $? -eq 137 ] && kills=$((kills + 1))
    left+=("$(counts "$D2")")
done
want=$(source_counts "$H")
"$lfr" store migrate --from "$H" --to "$D2" --home "$tmp/kill-pg" >"$tmp/out" 2>"$tmp/err" &&
    "$lfr" audit verify --home "$tmp/kill-pg" >/dev/null 2>&1 && [ "$(counts "$D2")" = "$want" ] &&
    ok "killed $kills times, then run again: every row once ($want), the copy verifies" ||
    bad "after $kills kills: $(cat "$tmp/err") $(counts "$D2") (want $want)"
# What each kill left: nothing, or the whole copy (one transaction).
# The copy without its store.copy entry: one audit entry fewer.
n_audit=$(echo "$want" | sed 's/.*audit|\([0-9]*\).*/\1/')
before_entry=${want/audit|$n_audit/audit|$((n_audit - 1))}
partial=0 empty=0 copied=0 whole=0
for got in "${left[@]}"; do
    if [ -z "$got" ]; then
        empty=$((empty + 1))
    elif [ "$got" = "$before_entry" ]; then
        copied=$((copied + 1))
    elif [ "$got" = "$want" ]; then
        whole=$((whole + 1))
    else
        partial=$((partial + 1))
    fi
done
[ "$partial" -eq 0 ] &&
    ok "after every kill the database held nothing ($empty), the copy without its entry ($copied) or with it ($whole)" ||
    bad "$partial kills left part of a copy"
compare_homes "after kills" "$H" "$tmp/kill-pg"

# ---- 3. Refusals -----------------------------------------------------------------------------
at 2026-06-02T12:00:00Z
L "$H" user add late --role auditor --user admin
"$lfr" store migrate --from "$H" --to "$D1" --home "$tmp/demo-pg" >"$tmp/out" 2>&1 &&
    bad "a home changed after its copy was copied again over it" ||
    { grep -q "not a copy of this home as it is now" "$tmp/out" &&
        ok "a home changed since its copy: refused ($(cut -c1-70 "$tmp/out")...)" ||
        bad "changed home: $(cat "$tmp/out")"; }
"$lfr" store migrate --from "$H" --to "host=/nonexistent dbname=x connect_timeout=2" \
    --home "$tmp/nowhere" >"$tmp/out" 2>&1 && bad "an unreachable database was accepted" ||
    { [ ! -e "$tmp/nowhere" ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] &&
        ok "an unreachable database: one line, nothing made ($(cut -c1-60 "$tmp/out")...)" ||
        bad "unreachable: $(cat "$tmp/out")"; }

# ---- 4. 500 enrolled subjects ------------------------------------------------------------------
lfw=$data/lfw
people=($(ls "$lfw" | LC_ALL=C sort))
stride=$((${#people[@]} / 720))
if [ "$stride" -lt 1 ]; then
    bad "fewer than 720 people in $lfw"
else
    m=$tmp/manifest.tsv
    printf 'reference\tcategory\treason\texpires\tprovenance\tcaptured\timage\n' >"$m"
    cats=(wanted_by_courts suspect bail_conditions missing_at_risk risk_of_harm associate witness victim)
    provs=(custody_imaging other_police_source public_appeal other)
    for ((i = 0; i < 720; i++)); do
        name=${people[$((i * stride))]}
        printf 'LFW-%03d\t%s\tbulk enrolment\t2099-12-31\t%s\t2007-01-01\t%s\n' "$i" \
            "${cats[$((i % 8))]}" "${provs[$((i % 4))]}" "$lfw/$name/${name}_0001.jpg" >>"$m"
    done
    B=$tmp/big
    at 2026-05-01T08:00:00Z
    "$lfr" init --home "$B" >/dev/null
    L "$B" user add admin --role administrator
    L "$B" user add auditor --role auditor --user admin
    "$lfr" subject import "$m" --user admin --home "$B" >"$tmp/out" 2>"$tmp/err"
    n_big=$(sqlite3 "$B/lfr.db" "SELECT count(*) FROM subjects")
    [ "$n_big" -ge 500 ] && ok "enrolled $n_big subjects ($(cat "$tmp/out"))" ||
        bad "only $n_big subjects enrolled ($(cat "$tmp/out"))"
    new_db
    D3=$DB
    at 2026-06-01T12:00:00Z
    t0=$(date +%s%N)
    "$lfr" store migrate --from "$B" --to "$D3" --home "$tmp/big-pg" >"$tmp/out" 2>"$tmp/err" &&
        ok "$n_big subjects: $(cat "$tmp/out") in $((($(date +%s%N) - t0) / 1000000)) ms" ||
        bad "$n_big subjects: $(cat "$tmp/err")"
    compare_homes "$n_big subjects" "$B" "$tmp/big-pg"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
