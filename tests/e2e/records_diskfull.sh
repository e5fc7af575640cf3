#!/usr/bin/env bash
# A full disk (issue 3, must-show 3): the home lives on a small tmpfs.
#   1. Subjects are enrolled one `lfr subject add` at a time until the disk
#      fills: the failing command exits 1 with one line saying the disk is
#      full ("No space left on device" / "disk is full").
#   2. With every last page taken, commands fail the same clear way.
#   3. Space is freed: nothing committed before is lost (integrity_check,
#      audit verify, every enrolled subject listed and shown with its
#      image's sha256, every sealed file decrypts under the home key to the
#      original's bytes and a unit-length template: checked by a Python
#      script with libsodium, not by lfr), and enrolment works again.
#   4. A sweep leaves 0, 1, 2, ... free pages before each enrolment until
#      one succeeds, so that the disk fills at each write in turn (the WAL's
#      shared memory at open, the sealed file, the commit, audit.head after
#      the commit); after each, the same checks hold and the subject is
#      enrolled whole or not at all.
#   5. `lfr subject import` stops on the full disk with one line, and
#      finishes when run again after space is freed.
# Needs root (or the right to mount a tmpfs), the models and LFW; skips (77)
# otherwise. Usage: records_diskfull.sh path/to/lfr   (needs sqlite3)
set -u
lfr=${1:?usage: records_diskfull.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/lfw-names.txt" ]; then
    echo "SKIP: LFW not found under $data (set LFR_DATA)"
    exit 77
fi
if [ ! -r "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (set LFR_MODELS)"
    exit 77
fi
for cmd in sqlite3 fallocate stat; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "SKIP: the $cmd command is not installed"
        exit 77
    fi
done
tmp=$(mktemp -d)
mnt=$tmp/disk
mkdir "$mnt"
if ! why=$(mount -t tmpfs -o size=3m,mode=0700 tmpfs "$mnt" 2>&1); then
    rm -rf "$tmp"
    echo "SKIP: cannot mount a tmpfs (needs root): ${why:-mount failed}"
    exit 77
fi
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW
export LFR_HOME=$mnt/home LFR_MODELS=$models
db=$LFR_HOME/lfr.db
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
q() { sqlite3 "$db" "$1"; }
free_pages() { stat -f -c %a "$mnt"; }
# fill N: take all but N free pages with the ballast file.
fill() {
    local a
    a=$(free_pages)
    if ((a > $1)); then fallocate -l $(((a - $1) * $(stat -f -c %S "$mnt"))) "$mnt/ballast.$a"; fi
}
unfill() { rm -f "$mnt"/ballast.*; }
add() { # REF IMAGE: subject add, output in $tmp/out, $tmp/err; returns its status
    LFR_PASSWORD=$pw "$lfr" subject add "$1" "$2" --category suspect --reason 'disk full test' \
        --expires 2099-12-31 --user admin </dev/null >"$tmp/out" 2>"$tmp/err"
}
full_msg='No space left on device|disk is full'
# one_full_line: the command's stderr is one line saying the disk is full.
one_full_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -Eq "$full_msg" "$tmp/err"; }

# Subjects the store holds now, and the consistency checks of the crash
# test: each subject has its image row and sealed file and one subject.add
# entry that agrees with it.
consistent() { # LABEL
    local problems=() n ic av
    ic=$(q "PRAGMA integrity_check" 2>&1)
    [ "$ic" = ok ] || problems+=("integrity_check: $ic")
    av=$("$lfr" audit verify 2>&1) || problems+=("audit verify: $av")
    n=$(q "SELECT count(*) FROM subjects s WHERE (SELECT count(*) FROM images i
           WHERE i.subject_id = s.id) != 1 OR (SELECT count(*) FROM audit a
           WHERE a.action = 'subject.add' AND a.object = 'subject:' || s.reference) != 1")
    [ "$n" = 0 ] || problems+=("$n subjects without exactly one image and one subject.add entry")
    n=$(q "SELECT count(*) FROM audit WHERE action = 'subject.add'
           AND substr(object, 9) NOT IN (SELECT reference FROM subjects)")
    [ "$n" = 0 ] || problems+=("$n subject.add entries without their subject")
    local missing=0
    for f in $(q "SELECT media_file FROM images"); do
        [ -f "$LFR_HOME/media/$f" ] || missing=$((missing + 1))
    done
    [ "$missing" = 0 ] || problems+=("$missing image rows without their sealed file")
    [ ${#problems[@]} -eq 0 ] && return 0
    bad "$1: ${problems[*]}"
    return 1
}

# The independent check of the sealed files (docs/RECORDS.md, "Subjects
# and images"): each image row's file opens with XChaCha20-Poly1305 under
# the home key, bound to "lfr-media:v1:<file>:<sha256>", and holds the
# original (whose sha256 is the row's) and 192 floats of unit length.
cat >"$tmp/unseal.py" <<'EOF'
import ctypes, ctypes.util, hashlib, math, os, sqlite3, struct, sys
home = sys.argv[1]
lib = ctypes.util.find_library("sodium")
if not lib:
    print("no libsodium")
    sys.exit(3)
na = ctypes.CDLL(lib)
if na.sodium_init() < 0:
    sys.exit(3)
key = open(os.path.join(home, "key"), "rb").read()
db = sqlite3.connect("file:" + os.path.join(home, "lfr.db") + "?mode=ro", uri=True)
rows = db.execute("SELECT id, media_file, sha256 FROM images WHERE deleted_at IS NULL").fetchall()
bad = 0
for image_id, name, sha in rows:
    try:
        blob = open(os.path.join(home, "media", name), "rb").read()
    except OSError as e:
        print("image %d: %s" % (image_id, e)); bad += 1; continue
    if blob[:5] != b"LFRS\x01" or len(blob) < 5 + 24 + 16:
        print("image %d: not a sealed blob" % image_id); bad += 1; continue
    nonce, c = blob[5:29], blob[29:]
    ad = ("lfr-media:v1:%s:%s" % (name, sha)).encode()
    m = ctypes.create_string_buffer(len(c))
    mlen = ctypes.c_ulonglong(0)
    if na.crypto_aead_xchacha20poly1305_ietf_decrypt(m, ctypes.byref(mlen), None, c,
            ctypes.c_ulonglong(len(c)), ad, ctypes.c_ulonglong(len(ad)), nonce, key) != 0:
        print("image %d: does not decrypt" % image_id); bad += 1; continue
    p = m.raw[:mlen.value]
    n = struct.unpack("<I", p[:4])[0]
    if len(p) != 4 + n + 192 * 4 or hashlib.sha256(p[4:4 + n]).hexdigest() != sha:
        print("image %d: wrong layout or original" % image_id); bad += 1; continue
    t = struct.unpack("<192f", p[4 + n:])
    norm = math.sqrt(sum(x * x for x in t))
    if not all(math.isfinite(x) for x in t) or abs(norm - 1) > 1e-3:
        print("image %d: template norm %f" % (image_id, norm)); bad += 1; continue
print("%d of %d sealed files decrypt" % (len(rows) - bad, len(rows)))
sys.exit(1 if bad else 0)
EOF
unseal() { python3 "$tmp/unseal.py" "$LFR_HOME"; }
have_unseal=1
python3 -c 'import ctypes, ctypes.util, sqlite3, sys; sys.exit(0 if ctypes.util.find_library("sodium") else 1)' \
    2>/dev/null || have_unseal=0

# Everything enrolled so far ($enrolled: "REF IMAGE" lines) is there: listed
# active with its image, whose row holds the sha256 of the file enrolled;
# the first and the newest shown (audited, each a login) with that sha256;
# and (with Python) every sealed file decrypts.
intact() { # LABEL
    local label=$1 listed missing=0 want ref img shas
    consistent "$label" || return 1
    listed=$(LFR_PASSWORD=$pw "$lfr" subject list --user admin 2>&1) ||
        { bad "$label: subject list: $listed"; return 1; }
    shas=$(q "SELECT s.reference || ' ' || i.sha256 FROM subjects s JOIN images i ON i.subject_id = s.id")
    while read -r ref img; do
        [ -n "$ref" ] || continue
        want=$(sha256sum "$img" | cut -c1-64)
        echo "$listed" | awk -F'\t' -v r="$ref" '$2 == r && $4 == "active" && $5 == "1 images" {f = 1} END {exit !f}' &&
            echo "$shas" | grep -qx "$ref $want" || missing=$((missing + 1))
    done <"$tmp/enrolled"
    [ "$missing" = 0 ] || { bad "$label: $missing enrolled subjects not listed whole"; return 1; }
    for ref in $(sed -n '1p;$p' "$tmp/enrolled" | cut -d' ' -f1); do
        img=$(awk -v r="$ref" '$1 == r {print $2}' "$tmp/enrolled")
        want=$(sha256sum "$img" | cut -c1-64)
        id=$(echo "$listed" | awk -F'\t' -v r="$ref" '$2 == r {print $1}')
        LFR_PASSWORD=$pw "$lfr" subject show "$id" --user admin 2>&1 | grep -q "sha256 $want" ||
            { bad "$label: subject show $id ($ref) lacks sha256 $want"; return 1; }
    done
    n=$(q "SELECT count(*) FROM subjects")
    [ "$n" -eq "$(wc -l <"$tmp/enrolled")" ] ||
        { bad "$label: $n subjects in the database, $(wc -l <"$tmp/enrolled") enrolled"; return 1; }
    if [ "$have_unseal" = 1 ]; then
        out=$(unseal) || { bad "$label: $out"; return 1; }
        [ "$(echo "$out" | tail -1)" = "$n of $n sealed files decrypt" ] ||
            { bad "$label: $out"; return 1; }
    fi
    return 0
}

"$lfr" init >/dev/null && LFR_NEW_PASSWORD=$pw "$lfr" user add admin --role administrator >/dev/null ||
    { echo "FAIL set up the home on the tmpfs"; exit 1; }
[ "$have_unseal" = 1 ] || echo "skip the independent decryption check: no python3 with libsodium"

# LFW first images, alphabetically.
ls "$data/lfw" | LC_ALL=C sort | while read -r name; do
    f=$data/lfw/$name/${name}_0001.jpg
    [ -r "$f" ] && echo "$f"
done | head -400 >"$tmp/images"
: >"$tmp/enrolled"
next=1
# enrol_next: add the next LFW image as subject D-<n>; 0 enrolled, 2 refused
# for its faces (skipped), 1 another failure (in $tmp/err).
enrol_next() {
    local img ref
    img=$(sed -n "${next}p" "$tmp/images")
    ref=$(printf 'D-%03d' "$next")
    next=$((next + 1))
    last_ref=$ref last_img=$img
    if add "$ref" "$img"; then
        echo "$ref $img" >>"$tmp/enrolled"
        return 0
    fi
    grep -Eq "$full_msg" "$tmp/err" && return 1
    grep -q 'faces found; exactly one is needed' "$tmp/err" && return 2
    return 1
}

# ---- 1. Enrol until the disk is full.
for i in 1 2 3; do enrol_next; done
fill 120 # leave 480 KiB
tries=0 failed=0 refused=0
while ((tries < 80)); do
    tries=$((tries + 1))
    enrol_next
    case $? in
    0) ;;
    2) refused=$((refused + 1)) ;;
    *)
        failed=1
        break
        ;;
    esac
done
n_enr=$(wc -l <"$tmp/enrolled")
if [ "$failed" = 1 ]; then
    msg=$(cat "$tmp/err")
    echo "     the disk filled at subject $last_ref after $n_enr enrolled ($refused refused for their faces), $(free_pages) pages free"
    one_full_line && ok "the failing enrolment says so in one line: $msg" ||
        bad "the failing enrolment's message: $msg"
else
    bad "the disk never filled in $tries enrolments"
fi
case $(cat "$tmp/err") in
*"was enrolled"*) echo "$last_ref $last_img" >>"$tmp/enrolled" ;;
esac
# As the failure left it: what committed is there.
intact "on the full disk, as the failure left it" &&
    ok "on the full disk: integrity_check, audit verify, $n_enr subjects listed whole, sealed files decrypt"

# ---- 2. Every last page taken.
fill 0
enrol_next
rc=$?
[ "$rc" -ne 0 ] && one_full_line && ok "add on a disk with no free page: exit 1, $(cat "$tmp/err")" ||
    bad "add on a disk with no free page: exit $rc, $(cat "$tmp/err")"
if out=$(LFR_PASSWORD=$pw "$lfr" subject list --user admin 2>&1); then
    [ "$(echo "$out" | wc -l)" -eq "$n_enr" ] && ok "list on a disk with no free page works" ||
        bad "list on a disk with no free page: $(echo "$out" | wc -l) subjects"
else
    [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -Eq "$full_msg" &&
        ok "list on a disk with no free page fails in one clear line: $out" ||
        bad "list on a disk with no free page: $out"
fi

# ---- 3. Free the space: nothing lost, and enrolment works again.
unfill
intact "after freeing space" &&
    ok "after freeing space: integrity_check, audit verify, all $n_enr subjects listed whole and decrypting"
n_before=$n_enr rc=2
for i in 1 2 3 4; do
    enrol_next
    rc=$?
    [ "$rc" -ne 2 ] && break
done
n_enr=$(wc -l <"$tmp/enrolled")
[ "$rc" -eq 0 ] && [ "$n_enr" -eq $((n_before + 1)) ] && ok "enrolment works again" ||
    bad "enrolment after freeing space: exit $rc, $(cat "$tmp/err")"

# ---- 4. The disk fills at each write in turn.
img=$(sed -n 1p "$tmp/images")
declare -A seen=()
sweep_bad=0 k=0
while ((k <= 60)); do
    ref=$(printf 'P-%02d' "$k")
    fill "$k"
    add "$ref" "$img"
    rc=$?
    unfill
    err=$(cat "$tmp/err")
    if [ "$rc" -eq 0 ]; then
        echo "$ref $img" >>"$tmp/enrolled"
        seen[ok]=$k
        break
    fi
    case $err in
    *"was enrolled"*) where=after-commit ;;
    *"cannot open database"* | *"settings"* | *"schema"*) where=open ;;
    *"/media/"*) where=sealed-file ;;
    *"database: "*) where=database ;;
    *) where=other ;;
    esac
    seen[$where]="${seen[$where]:+${seen[$where]},}$k"
    one_full_line || { bad "$k free pages: not one clear line: $err"; sweep_bad=$((sweep_bad + 1)); }
    [ "$where" = after-commit ] && echo "$ref $img" >>"$tmp/enrolled"
    consistent "after the failure with $k free pages" || sweep_bad=$((sweep_bad + 1))
    n=$(q "SELECT count(*) FROM subjects WHERE reference = '$ref'")
    want=0
    [ "$where" = after-commit ] && want=1
    [ "$n" = "$want" ] || { bad "$k free pages ($where): subject $ref rows $n, wanted $want"; sweep_bad=$((sweep_bad + 1)); }
    k=$((k + 1))
done
summary=""
for w in open sealed-file database after-commit other ok; do
    [ -n "${seen[$w]:-}" ] && summary="$summary $w@${seen[$w]}"
done
echo "     sweep (failure point @ free pages):$summary"
[ -n "${seen[ok]:-}" ] && [ -n "${seen[sealed-file]:-}" ] && [ -n "${seen[database]:-}" ] &&
    [ -z "${seen[other]:-}" ] && [ "$sweep_bad" = 0 ] &&
    ok "sweep: the disk filled at the sealed file and in the database, each a clear line, each leaving the store whole" ||
    bad "sweep: $sweep_bad problems; failure points:$summary"
[ -n "${seen[after-commit]:-}" ] &&
    echo "     (the sweep hit the window between the commit and audit.head: the subject was kept whole)"
intact "after the sweep" && ok "after the sweep: every enrolled subject intact and decrypting"

# ---- 5. Import stops on a full disk and resumes.
m=$tmp/manifest.tsv
printf 'reference\tcategory\treason\texpires\tprovenance\tcaptured\timage\n' >"$m"
for ((i = 0; i < 30; i++)); do
    printf 'IMP-%02d\twitness\timport test\t2099-12-31\tother\t\t%s\n' "$i" \
        "$(sed -n "$((next + i))p" "$tmp/images")" >>"$m"
done
fill 60
LFR_PASSWORD=$pw "$lfr" subject import "$m" --user admin </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
stop=$(grep -E "$full_msg" "$tmp/err")
[ "$rc" -eq 1 ] && [ "$(echo "$stop" | wc -l)" -eq 1 ] &&
    echo "$stop" | grep -q 'import stopped; run the same command again to resume' &&
    grep -q 'stopped with [0-9]* subjects not attempted' "$tmp/out" &&
    ok "import on a full disk stops: $(cat "$tmp/out")" ||
    bad "import on a full disk: exit $rc, $(cat "$tmp/out") / $(cat "$tmp/err")"
unfill
LFR_PASSWORD=$pw "$lfr" subject import "$m" --user admin </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
refused=$(grep -c '^lfr: line' "$tmp/err")
n_imp=$(q "SELECT count(*) FROM subjects WHERE reference LIKE 'IMP-%'")
[ "$((n_imp + refused))" -eq 30 ] && grep -q "refused $refused\$" "$tmp/out" &&
    ok "import run again after freeing space finishes: $(cat "$tmp/out"); $n_imp enrolled in all" ||
    bad "import resumed: exit $rc, $(cat "$tmp/out"), $n_imp enrolled, $refused refused"
q "SELECT reference FROM subjects WHERE reference LIKE 'IMP-%'" | while read -r ref; do
    n=${ref#IMP-}
    echo "$ref $(sed -n "$((next + 10#$n))p" "$tmp/images")"
done >>"$tmp/enrolled"
intact "at the end" && ok "at the end: all $(wc -l <"$tmp/enrolled") subjects intact and decrypting"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
