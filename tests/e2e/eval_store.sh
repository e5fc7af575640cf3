#!/usr/bin/env bash
# `lfr eval verify --home DIR --user NAME` keeps the run on record: the
# evaluation lists with its kind and the manifest's sha256, its figures hold
# per-group rates with "none" (NaN) where not estimable, and the audit chain
# verifies. A wrong password is refused before any image is read, and a role
# without the right (an operator) is refused. Runs on the first 300 LFW
# images; skips, saying so, when the LFW data or the models are absent.
set -u
lfr=${1:?usage: eval_store.sh LFR}
data=${LFR_DATA:-../shared/data}
models=${LFR_MODELS:-models}
if [ ! -f "$data/lfw/lfw-names.txt" ] || [ ! -d "$data/labels" ]; then
    echo "SKIP: LFW or its labels not found at $data (set LFR_DATA)"
    exit 77
fi
if [ ! -f "$models/MobileFaceNet.tflite" ]; then
    echo "SKIP: models not found in $models (run scripts/setup.sh)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW LFR_HOME
fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; sed 's/^/    /' "$tmp/err" 2>/dev/null | tail -3; fails=$((fails + 1)); }
if command -v setsid >/dev/null 2>&1; then detach=(setsid -w); else detach=(); fi

home="$tmp/home"
"$lfr" init --home "$home" >/dev/null &&
    LFR_NEW_PASSWORD='auditor pass 1' "$lfr" user add admin --role administrator --home "$home" >/dev/null &&
    LFR_PASSWORD='auditor pass 1' LFR_NEW_PASSWORD='operator pass 2' \
        "$lfr" user add op --role operator --user admin --home "$home" >/dev/null ||
    { echo "FAIL cannot set up a home"; exit 1; }

"$lfr" eval manifest lfw --data "$data/lfw" --labels "$data/labels" 2>/dev/null |
    head -n 302 >"$tmp/m.tsv"
sha=$(sha256sum "$tmp/m.tsv" | cut -d' ' -f1)
args=(eval verify "$tmp/m.tsv" --data "$data/lfw" --models "$models" --impostors 20000
    --bootstrap 200 --home "$home")

# Wrong password: refused at once (no progress output: no image read).
if LFR_PASSWORD='wrong password' "${detach[@]}" "$lfr" "${args[@]}" --user admin \
    </dev/null >"$tmp/out" 2>"$tmp/err"; then
    bad "a wrong password was accepted"
elif grep -q "images" "$tmp/err"; then
    bad "images were read before the login was checked"
else
    ok "wrong password refused before the run"
fi
# An operator may not record evaluations: refused (and audited) before the run.
if LFR_PASSWORD='operator pass 2' "${detach[@]}" "$lfr" "${args[@]}" --user op \
    </dev/null >"$tmp/out" 2>"$tmp/err"; then
    bad "an operator recorded an evaluation"
elif grep -q "images" "$tmp/err" || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    bad "operator refused, but not at once in one line"
else
    ok "operator refused before the run"
fi
# A malformed manifest: one line naming the file and the line.
printf 'path\tidentity\na.jpg\tx\nb.jpg\n' >"$tmp/bad.tsv"
if "$lfr" eval verify "$tmp/bad.tsv" --data "$data/lfw" --models "$models" >"$tmp/out" 2>"$tmp/err"; then
    bad "a malformed manifest was accepted"
elif [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "bad.tsv:3: needs at least a path and an identity" "$tmp/err"; then
    ok "malformed manifest: file and line named"
else
    bad "malformed manifest message"
fi
if LFR_PASSWORD='auditor pass 1' "${detach[@]}" "$lfr" "${args[@]}" --user admin \
    </dev/null >"$tmp/out" 2>"$tmp/err" && grep -q "recorded evaluation" "$tmp/out"; then
    ok "run recorded"
else
    bad "run not recorded"
fi
LFR_PASSWORD='auditor pass 1' "$lfr" evaluation list --user admin --home "$home" >"$tmp/list" 2>"$tmp/err"
if grep -q "verify" "$tmp/list" && grep -q "$sha" "$tmp/list" && grep -q "MobileFaceNet" "$tmp/list"; then
    ok "listed with kind, manifest sha256 and models"
else
    bad "listing: $(cat "$tmp/list")"
fi
id=$(cut -f1 "$tmp/list" | tail -1)
LFR_PASSWORD='auditor pass 1' "$lfr" evaluation show "$id" --user admin --home "$home" >"$tmp/show" 2>"$tmp/err"
grep -qP '^sex=female\tFMR\t' "$tmp/show" && grep -qP '^sex=male\tFNMR ratio\t' "$tmp/show" &&
    grep -qP '^\(all\)\tAUC\t' "$tmp/show" && ok "per-group figures stored" ||
    bad "figures: $(head -5 "$tmp/show")"
# 300 images: some groups are too small, and are stored as "none", not a number.
grep -qP '^race=\w+\tFMR\t[^\t]+\tnan\t' "$tmp/show" && ok "not estimable stored as none" ||
    bad "no not-estimable figure: $(grep race= "$tmp/show" | head -3)"
"$lfr" audit verify --home "$home" >"$tmp/out" 2>"$tmp/err" && ok "audit verify" || bad "audit verify"
LFR_PASSWORD='auditor pass 1' "$lfr" audit list --user admin --home "$home" >"$tmp/audit" 2>"$tmp/err"
grep "evaluation.add" "$tmp/audit" | grep -q "op" && ok "the operator's refusal is audited" ||
    bad "no audited refusal: $(grep evaluation "$tmp/audit" | head -3)"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
