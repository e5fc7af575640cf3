#!/usr/bin/env bash
# Crash safety of enrolment (issue 3, must-show 3): `lfr subject import` of
# a manifest of 500 LFW images (250 people x 2 images, plus five bad
# subjects) is killed with SIGKILL at random moments (seeded) and resumed
# each time, until it finishes. After every kill:
#   - the database passes PRAGMA integrity_check and `lfr audit verify`;
#   - no subject is half-enrolled: each subject row has all the images the
#     manifest gives it, exactly one subject.add audit entry whose id and
#     image count match the rows, and no subject.add entry lacks its
#     subject; every image row's sealed media file exists;
#   - sealed files that no row names (a kill between writing the files and
#     the commit) number at most two per kill.
# At the end the enrolled subjects and the refusals are exactly those of an
# uninterrupted import of the same manifest into another home, every
# manifest subject is enrolled or refused, and each enrolled image's sha256
# is that of its manifest file.
# Needs the models ($LFR_MODELS), LFW and the stills ($LFR_DATA); skips (77)
# without them. LFR_CRASH_SEED picks the kill times (printed).
# Usage: records_enrol_crash_slow.sh path/to/lfr   (needs sqlite3)
set -u
lfr=${1:?usage: records_enrol_crash_slow.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/lfw-names.txt" ] || [ ! -r "$data/stills/two_people.jpg" ]; then
    echo "SKIP: LFW or the stills not found under $data (set LFR_DATA)"
    exit 77
fi
if [ ! -r "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (set LFR_MODELS)"
    exit 77
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "SKIP: the sqlite3 command is not installed (scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LFR_HOME LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW
export LFR_MODELS=$models
pw='admin passphrase 1'
fails=0 passes=0
ok() {
    echo "ok   $1"
    passes=$((passes + 1))
}
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- The manifest: 250 people with two images each, spread over the
# alphabet; the second images of the second half come at the end of the
# file, away from their first. Then five subjects that must be refused.
lfw=$data/lfw
people=()
while read -r name; do
    [ -r "$lfw/$name/${name}_0002.jpg" ] && people+=("$name")
done < <(ls "$lfw" | LC_ALL=C sort)
stride=$((${#people[@]} / 250))
if [ "$stride" -lt 1 ]; then
    echo "SKIP: fewer than 250 people with two images in $lfw"
    exit 77
fi
m=$tmp/manifest.tsv
tail_rows=$tmp/tail.tsv
: >"$tail_rows"
printf 'reference\tcategory\treason\texpires\tprovenance\tcaptured\timage\n' >"$m"
for ((i = 0; i < 250; i++)); do
    name=${people[$((i * stride))]}
    ref=$(printf 'LFW-%03d' "$i")
    printf '%s\tsuspect\tbulk enrolment test\t2099-12-31\tcustody_imaging\t2007-01-01\t%s\n' \
        "$ref" "$lfw/$name/${name}_0001.jpg" >>"$m"
    row2=$(printf '%s\tsuspect\tbulk enrolment test\t2099-12-31\tpublic_appeal\t\t%s' \
        "$ref" "$lfw/$name/${name}_0002.jpg")
    if ((i < 125)); then echo "$row2" >>"$m"; else echo "$row2" >>"$tail_rows"; fi
done
cat "$tail_rows" >>"$m"
n_lfw=$(grep -c '^LFW-' "$m")
{
    printf 'BAD-TWO\tvictim\ttwo people\t2099-12-31\tother\t\t%s\n' "$data/stills/two_people.jpg"
    printf 'BAD-CAT\tterrorist\tno such category\t2099-12-31\tother\t\t%s\n' "$data/stills/obama.jpg"
    printf 'BAD-FILE\twitness\tmissing file\t2099-12-31\tother\t\t%s\n' "$tmp/no-such.jpg"
    printf 'BAD-COLS\twitness\tsix fields\t2099-12-31\tother\t%s\n' "$data/stills/obama.jpg"
    printf 'BAD-MIX\twitness\treason one\t2099-12-31\tother\t\t%s\n' "$data/stills/biden.jpg"
    printf 'BAD-MIX\twitness\treason two\t2099-12-31\tother\t\t%s\n' "$data/stills/obama.jpg"
} >>"$m"
n_subjects=$(tail -n +2 "$m" | cut -f1 | sort -u | wc -l)
echo "     manifest: $n_lfw LFW images, $n_subjects subjects"
# reference -> number of images, from the manifest.
tail -n +2 "$m" | cut -f1 | sort | uniq -c | awk '{print $2 "|" $1}' >"$tmp/want_n"

new_home() {
    "$lfr" init --home "$1" >/dev/null &&
        LFR_NEW_PASSWORD=$pw "$lfr" user add admin --role administrator --home "$1" >/dev/null
}
import() { # HOME: runs in the background; its pid in $pid
    LFR_PASSWORD=$pw "$lfr" subject import "$m" --user admin --home "$1" \
        </dev/null >"$tmp/out" 2>"$tmp/err" &
    pid=$!
}
# The refusals a finished run reported, as "line reference" pairs.
refusals() { sed -n 's/^lfr: line \([0-9]*\): \([^:]*\): .*/\1 \2/p' "$1" | sort; }

# ---- The truth: the same manifest imported without interruption.
new_home "$tmp/ref" || { echo "FAIL set up the reference home"; exit 1; }
t0=$(now_ms)
import "$tmp/ref"
wait "$pid"
rc=$?
t_ref=$(($(now_ms) - t0))
cp "$tmp/err" "$tmp/ref.err"
ref_summary=$(cat "$tmp/out")
refusals "$tmp/ref.err" >"$tmp/ref.refused"
n_refused=$(wc -l <"$tmp/ref.refused")
sqlite3 "$tmp/ref/lfr.db" "SELECT reference FROM subjects ORDER BY reference" >"$tmp/ref.enrolled"
n_enrolled=$(wc -l <"$tmp/ref.enrolled")
echo "     uninterrupted import: $ref_summary (exit $rc, ${t_ref} ms)"
[ "$rc" -eq 1 ] && [ "$ref_summary" = "enrolled $n_enrolled, skipped 0, refused $n_refused" ] &&
    ok "uninterrupted import: summary matches the database and the refusal lines" ||
    bad "uninterrupted import: exit $rc, '$ref_summary', $n_enrolled rows, $n_refused refusal lines"
[ $((n_enrolled + n_refused)) -eq "$n_subjects" ] &&
    ok "every subject enrolled or refused once ($n_enrolled + $n_refused = $n_subjects)" ||
    bad "enrolled $n_enrolled + refused $n_refused != $n_subjects subjects"
for want in "BAD-TWO" "BAD-CAT" "BAD-FILE" "BAD-COLS" "BAD-MIX"; do
    grep -q " $want\$" "$tmp/ref.refused" || bad "$want was not refused"
done
grep -q "BAD-TWO: .*two_people.jpg: 2 faces found" "$tmp/ref.err" &&
    grep -q "BAD-CAT: unknown category" "$tmp/ref.err" &&
    grep -q "BAD-FILE: .*no-such.jpg: cannot open" "$tmp/ref.err" &&
    grep -q "BAD-COLS: expected 7 tab-separated fields, found 6" "$tmp/ref.err" &&
    grep -q "BAD-MIX: reason differs from line" "$tmp/ref.err" &&
    ok "the five bad subjects are refused, each on one line with its reason" ||
    bad "bad subjects: $(grep BAD- "$tmp/ref.err")"
# An LFW subject is refused only for its number of faces.
other=$(grep '^lfr: line [0-9]*: LFW-' "$tmp/ref.err" | grep -cv ': [0-9]* faces found; exactly one is needed$')
[ "$other" -eq 0 ] && ok "LFW refusals are all 'N faces found' ($((n_refused - 5)) subjects)" ||
    bad "$other LFW refusals for another reason"
[ "$n_enrolled" -ge 150 ] || bad "only $n_enrolled LFW subjects enrolled: too few to test with"

# ---- Time the start-up (login, models, reading the manifest and the
# watchlist) on a run with nothing left to do but the refusals.
grep -v '^LFW-' "$m" >"$tmp/done.tsv"
grep '^LFW-' "$m" | grep -F -f <(sed 's/.*/&\t/' "$tmp/ref.enrolled") >>"$tmp/done.tsv"
t0=$(now_ms)
LFR_PASSWORD=$pw "$lfr" subject import "$tmp/done.tsv" --user admin --home "$tmp/ref" \
    </dev/null >/dev/null 2>&1
t_start=$(($(now_ms) - t0))

# ---- Checks after each kill.
home=$tmp/home
new_home "$home" || { echo "FAIL set up the home"; exit 1; }
db=$home/lfr.db
q() { sqlite3 "$db" "$1"; }
kills=0 unanchored=0
check_after() { # LABEL
    local label=$1 problems=()
    local ic
    ic=$(q "PRAGMA integrity_check" 2>&1)
    [ "$ic" = ok ] || problems+=("integrity_check: $ic")
    local av
    av=$("$lfr" audit verify --home "$home" 2>&1) || problems+=("audit verify: $av")
    case $av in *"after the anchor"*) unanchored=$((unanchored + 1)) ;; esac
    # Image rows per subject against the manifest.
    local have
    have=$(q "SELECT s.reference || '|' || count(i.id) FROM subjects s
              LEFT JOIN images i ON i.subject_id = s.id GROUP BY s.id ORDER BY s.reference")
    local extra
    extra=$(comm -23 <(echo "$have" | sed '/^$/d' | sort) <(sort "$tmp/want_n"))
    [ -z "$extra" ] || problems+=("subjects whose images differ from the manifest: $extra")
    # One subject.add entry per subject, naming its id and its image count.
    local n
    n=$(q "SELECT count(*) FROM subjects s WHERE (SELECT count(*) FROM audit a
           WHERE a.action = 'subject.add' AND a.object = 'subject:' || s.reference) != 1")
    [ "$n" = 0 ] || problems+=("$n subjects without exactly one subject.add entry")
    n=$(q "SELECT count(*) FROM subjects s JOIN audit a
           ON a.action = 'subject.add' AND a.object = 'subject:' || s.reference
           WHERE json_extract(a.detail, '\$.id') != s.id
              OR json_array_length(a.detail, '\$.images') !=
                 (SELECT count(*) FROM images i WHERE i.subject_id = s.id)")
    [ "$n" = 0 ] || problems+=("$n subject.add entries disagree with their rows")
    n=$(q "SELECT count(*) FROM audit WHERE action = 'subject.add'
           AND substr(object, 9) NOT IN (SELECT reference FROM subjects)")
    [ "$n" = 0 ] || problems+=("$n subject.add entries without their subject")
    n=$(q "SELECT count(*) FROM images WHERE subject_id NOT IN (SELECT id FROM subjects)")
    [ "$n" = 0 ] || problems+=("$n image rows without a subject")
    # Every image row's sealed file exists; count the files no row names.
    local rows missing=0
    rows=$(q "SELECT media_file FROM images WHERE deleted_at IS NULL ORDER BY media_file")
    for f in $rows; do
        [ -f "$home/media/$f" ] || missing=$((missing + 1))
    done
    [ "$missing" = 0 ] || problems+=("$missing image rows without their sealed file")
    orphans=$(comm -13 <(echo "$rows" | sed '/^$/d') <(ls "$home/media" | sort) | wc -l)
    [ "$orphans" -le $((2 * kills)) ] ||
        problems+=("$orphans sealed files no row names, more than 2 per kill ($kills kills)")
    if [ ${#problems[@]} -eq 0 ]; then
        return 0
    fi
    bad "$label: ${problems[*]}"
    return 1
}

# ---- Kill, check, resume.
RANDOM=${LFR_CRASH_SEED:-20261124}
echo "     seed ${LFR_CRASH_SEED:-20261124}; start-up ${t_start} ms; uninterrupted run ${t_ref} ms"
target=$((15 + RANDOM % 11))
# Where each run is killed, in subjects rather than seconds, so that the
# kills spread over the whole enrolment however fast the machine is: the
# run is watched (the count of subjects, every 20 ms) until it has enrolled
# up to a random target, at most twice the even share of what is left
# (and never the last few subjects, so that the job does not end before the
# last kill), then killed after a further random 0-80 ms, somewhere inside
# the next subject's enrolment: reading and detecting, sealing the files,
# the transaction, or updating audit.head. One kill in five lands instead
# at a random moment of the start-up (logging in, loading the models), or,
# once few subjects are left, every kill does.
watch_until() { # COUNT: wait until the run has enrolled COUNT subjects; 1 if it ended
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(q "SELECT count(*) FROM subjects" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
        sleep 0.02
    done
    return 1
}
runs=0 finished=0 last_rc=0 bad_after=0 t0=$(now_ms) enrolled=0 n_startup=0
progress=()
while ((kills < target)); do
    room=$((n_enrolled - 3 - enrolled))
    if ((RANDOM % 5 == 0 || room < 1)); then
        goal=0
        delay=$((RANDOM % (t_start + 1)))
    else
        share=$((2 * room / (target - kills)))
        ((share < 1)) && share=1
        goal=$((enrolled + 1 + RANDOM % share))
        ((goal > enrolled + room)) && goal=$((enrolled + room))
        delay=$((RANDOM % 81))
    fi
    import "$home"
    runs=$((runs + 1))
    ((goal == 0)) || watch_until "$goal"
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        ((goal == 0)) && n_startup=$((n_startup + 1))
        enrolled=$(q "SELECT count(*) FROM subjects")
        progress+=("$enrolled")
        check_after "after kill $kills" || bad_after=$((bad_after + 1))
    else
        wait "$pid"
        last_rc=$?
        finished=1
        break
    fi
done
t_kill=$(($(now_ms) - t0))
echo "     $kills kills ($n_startup in the start-up) in $runs runs over ${t_kill} ms; subjects enrolled at each kill: ${progress[*]}"
echo "     kills that left entries after the anchor (killed between a commit and audit.head): $unanchored"
[ "$kills" -ge 15 ] && ok "$kills kills (target $target)" || bad "only $kills kills (target $target)"
[ "$bad_after" -eq 0 ] && ok "after each of $kills kills: integrity_check ok, audit verify ok, no half-enrolled subject" ||
    bad "$bad_after of $kills kills left a bad state"

# ---- Resume until done (the last killed run may have left work).
if [ "$finished" -eq 0 ]; then
    import "$home"
    wait "$pid"
    rc=$?
else
    rc=$last_rc
fi
summary=$(cat "$tmp/out")
echo "     final run: $summary (exit $rc)"
refusals "$tmp/err" >"$tmp/final.refused"
check_after "at the end" && ok "final state passes the same checks ($orphans orphaned sealed files)"
sqlite3 "$db" "SELECT reference FROM subjects ORDER BY reference" >"$tmp/enrolled"
cmp -s "$tmp/enrolled" "$tmp/ref.enrolled" &&
    ok "enrolled set equals the uninterrupted run's ($n_enrolled subjects): the manifest minus the refusals" ||
    bad "enrolled set differs: $(diff "$tmp/enrolled" "$tmp/ref.enrolled" | head -5)"
cmp -s "$tmp/final.refused" "$tmp/ref.refused" &&
    ok "the final run reports the same $n_refused refusals, same lines" ||
    bad "refusals differ: $(diff "$tmp/final.refused" "$tmp/ref.refused" | head -5)"
skipped=$(echo "$summary" | sed -n 's/^enrolled \([0-9]*\), skipped \([0-9]*\), refused \([0-9]*\)$/\1 \2 \3/p')
read -r s_e s_s s_r <<<"${skipped:-x x x}"
[ "$rc" -eq 1 ] && [ "$s_r" = "$n_refused" ] && [ "$s_e" != x ] &&
    [ $((s_e + s_s)) -eq "$n_enrolled" ] &&
    ok "final summary: enrolled + skipped = $n_enrolled, refused $n_refused" ||
    bad "final summary '$summary' (exit $rc)"
n=$(q "SELECT count(*) FROM audit WHERE action = 'subject.add'")
[ "$n" -eq "$n_enrolled" ] && ok "$n subject.add entries, one per subject" ||
    bad "$n subject.add entries for $n_enrolled subjects"

# Each enrolled image is the file the manifest names, with its provenance
# and capture date.
tail -n +2 "$m" | awk -F'\t' 'NF == 7 {print $7}' | sort -u | xargs -d '\n' sha256sum 2>/dev/null |
    awk '{print substr($0, 67) "\t" $1}' >"$tmp/sums"
tail -n +2 "$m" | awk -F'\t' -v OFS='|' 'FNR == NR {sum[$1] = $2; next}
    NF == 7 && ($7 in sum) {print $1, $5, $6, sum[$7]}' "$tmp/sums" - | sort >"$tmp/want_images"
q "SELECT s.reference || '|' || i.provenance || '|' || coalesce(substr(i.capture_date, 1, 10), '')
   || '|' || i.sha256 FROM images i JOIN subjects s ON s.id = i.subject_id" | sort >"$tmp/have_images"
extra=$(comm -23 "$tmp/have_images" "$tmp/want_images" | wc -l)
n_img=$(wc -l <"$tmp/have_images")
[ "$extra" -eq 0 ] && [ "$n_img" -eq $((2 * n_enrolled)) ] &&
    ok "$n_img image rows: each one's sha256, provenance and capture date are its manifest row's" ||
    bad "$extra of $n_img image rows do not match the manifest"

out=$("$lfr" audit verify --home "$home" 2>&1) && ok "audit verify: $(echo "$out" | head -1)" ||
    bad "audit verify: $out"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
