#!/usr/bin/env bash
# The transparency log end to end, with the independent verifier
# (scripts/audit-verify.py) checking what lfr says:
#   - lfr audit checkpoint, prove, verify --checkpoint; lfr witness init,
#     cosign, show; every entry's inclusion proof, a witness request's
#     consistency proof and a witness cosignature check out in Python too;
#   - S3: an entry forged into the database is found by both verifiers at
#     once, writes stop, and an administrator re-anchors;
#   - S8: the whole log rewritten with its key passes the home's own checks,
#     but both verifiers find it against a checkpoint kept outside, and the
#     witness refuses to cosign;
#   - S18: a read-only copy is verified by a user who cannot write it,
#     without the media key, and nothing is written; a NUL byte hidden in a
#     field and a BLOB-typed cell lead both verifiers to the same verdict;
#     text that is not UTF-8 is refused when written.
# Usage: records_log.sh path/to/lfr   (needs sqlite3 and python3)
set -u
lfr=${1:?usage: records_log.sh LFR}
for c in sqlite3 python3; do
    if ! command -v "$c" >/dev/null 2>&1; then
        echo "SKIP: $c is not installed (scripts/setup.sh)"
        exit 77
    fi
done
src=${LFR_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
verifier="$src/scripts/audit-verify.py"
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
export LFR_HOME="$tmp/home"
unset LFR_PASSWORD LFR_NEW_PASSWORD LFR_FAKE_NOW LFR_WITNESS
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
# check NAME CMD...: CMD succeeds.
check() {
    local name=$1
    shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name: $(echo "$out" | head -3)"; fi
}
# refuse NAME TEXT CMD...: CMD fails with TEXT in its output.
refuse() {
    local name=$1 text=$2
    shift 2
    if out=$("$@" 2>&1); then
        bad "$name: accepted: $(echo "$out" | head -2)"
    elif [[ "$out" == *"$text"* ]]; then
        ok "$name: $(echo "$out" | grep -F -- "$text" | head -1 | cut -c1-150)"
    else
        bad "$name: '$text' not in: $(echo "$out" | head -3)"
    fi
}
as_admin() { LFR_PASSWORD=$admin_pw "$lfr" "$@" --user admin; }

"$lfr" init >/dev/null && LFR_NEW_PASSWORD=$admin_pw "$lfr" user add admin \
    --role administrator >/dev/null || { echo "FAIL setup"; exit 1; }
for i in 1 2 3; do
    LFR_PASSWORD=$admin_pw LFR_NEW_PASSWORD="user $i passphrase" "$lfr" user add "u$i" \
        --role auditor --user admin >/dev/null
done
LFR_PASSWORD=wrong "$lfr" user list --user admin >/dev/null 2>&1

# ---- Checkpoints, the witness, proofs ------------------------------------------------
check "log key" "$lfr" audit checkpoint --key --out "$tmp/log.vkey"
check "export a checkpoint" "$lfr" audit checkpoint --out "$tmp/kept.note"
[ "$(sed -n 2p "$tmp/kept.note")" = "$(sqlite3 "$LFR_HOME/lfr.db" 'SELECT count(*) FROM audit')" ] &&
    ok "the checkpoint's size is the number of entries" || bad "checkpoint size: $(cat "$tmp/kept.note")"
wdir="$tmp/witness"
check "witness init" "$lfr" witness init --dir "$wdir" --name oversight.example/witness \
    --log-key "$tmp/log.vkey"
[ "$(stat -c %a "$wdir/witness.key")" = 600 ] && ok "witness key 0600" || bad "witness key mode"
check "witness request from 0" "$lfr" audit checkpoint --old 0 --out "$tmp/req0"
check "witness cosigns" "$lfr" witness cosign "$tmp/req0" --dir "$wdir" --out "$tmp/cosigned.note"
refuse "witness refuses a request from the wrong size" "last cosigned" \
    "$lfr" witness cosign "$tmp/req0" --dir "$wdir"
as_admin sharing add --recipient "Crown Prosecution Service" --purpose "trial" \
    --legal-basis "DPA 2018 s.35" --dataset "one crop" --images 1 --security "encrypted" >/dev/null
for i in 4 5; do
    LFR_PASSWORD=$admin_pw LFR_NEW_PASSWORD="user $i passphrase" "$lfr" user add "u$i" \
        --role auditor --user admin >/dev/null
done
n=$(sqlite3 "$LFR_HOME/lfr.db" 'SELECT count(*) FROM audit')
size=$(sed -n 2p "$tmp/kept.note")
check "witness request from the last cosigned size" "$lfr" audit checkpoint --old "$size" \
    --out "$tmp/req1"
check "scripts/audit-verify.py checks the consistency proof" python3 "$verifier" \
    --consistency "$tmp/req1" --checkpoint "$tmp/kept.note" --key "$tmp/log.vkey"
check "witness cosigns the next" "$lfr" witness cosign "$tmp/req1" --dir "$wdir" \
    --out "$tmp/cosigned2.note"
wsize=$("$lfr" witness show --dir "$wdir" | sed -n 's/^size //p')
[ "$wsize" = "$n" ] && ok "witness state at $n entries" || bad "witness state: $wsize, log $n"

proofs_ok=1
for seq in $(seq 1 "$n"); do
    "$lfr" audit prove "$seq" --out "$tmp/p$seq" 2>/dev/null &&
        python3 "$verifier" --proof "$tmp/p$seq" --key "$tmp/log.vkey" >"$tmp/pv" 2>&1 &&
        grep -q "^proof ok: entry $seq is in" "$tmp/pv" || {
        proofs_ok=0
        bad "inclusion proof of entry $seq: $(head -2 "$tmp/pv")"
    }
done
((proofs_ok)) && ok "all $n inclusion proofs check out in scripts/audit-verify.py"
sed -i '4s/./A/' "$tmp/p3"
refuse "an altered proof is refused" "not in the checkpoint" \
    python3 "$verifier" --proof "$tmp/p3" --key "$tmp/log.vkey"

# The independent verifier answers damaged input with one line, never a
# traceback (S18): 200 random byte changes to a proof and a checkpoint.
python3 - "$tmp/p2" "$tmp/kept.note" "$verifier" "$tmp/log.vkey" >"$tmp/robust" 2>&1 <<'EOF2'
import random, subprocess, sys
proof, note, verifier, key = sys.argv[1:5]
rnd = random.Random(7)
bad = 0
for i in range(200):
    src = open(proof if i % 2 else note, "rb").read()
    data = bytearray(src)
    for _ in range(rnd.randint(1, 4)):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    open(sys.argv[1] + ".m", "wb").write(bytes(data))
    args = ["--proof", sys.argv[1] + ".m"] if i % 2 else ["--consistency", sys.argv[1] + ".m",
                                                          "--checkpoint", note]
    r = subprocess.run([sys.executable, verifier] + args + ["--key", key], capture_output=True,
                       text=True, errors="replace")
    if r.returncode not in (0, 1) or "Traceback" in r.stdout + r.stderr:
        bad += 1
        print("input %d: exit %d: %s" % (i, r.returncode, (r.stdout + r.stderr)[-300:]))
print("bad", bad)
EOF2
grep -q "^bad 0$" "$tmp/robust" && ok "scripts/audit-verify.py: 200 damaged inputs, one-line answers" ||
    bad "scripts/audit-verify.py on damaged input: $(head -5 "$tmp/robust")"

wkey="$wdir/witness.pub"
both() { # both NAME ARGS...: lfr and the Python verifier both succeed, same first lines
    local name=$1
    shift
    local a="" b=""
    a=$("$lfr" audit verify "$@" 2>&1) && b=$(python3 "$verifier" "$LFR_HOME" "$@" 2>&1) &&
        [ "$(echo "$a" | head -3)" = "$(echo "$b" | head -3)" ] &&
        ok "$name: $(echo "$a" | sed -n 4p)" || bad "$name: lfr: $a / python: $b"
}
both "verify against the cosigned checkpoint, one witness required" \
    --checkpoint "$tmp/cosigned.note" --witness-key "$wkey" --require-witness 1
refuse "two witnesses required, one given" "1 cosignature" "$lfr" audit verify \
    --checkpoint "$tmp/cosigned.note" --witness-key "$wkey" --require-witness 2
refuse "python: two witnesses required" "1 cosignatures" python3 "$verifier" "$LFR_HOME" \
    --checkpoint "$tmp/cosigned.note" --witness-key "$wkey" --require-witness 2

# ---- S18: a read-only copy, by a user who cannot write it ----------------------------------
ro="$tmp/evidence"
cp -a "$LFR_HOME" "$ro"
rm -f "$ro/key" "$ro/log.key"
chmod -R a+rX "$ro"
chmod -R a-w "$ro"
sums() { (cd "$ro" && find . -type f -exec sha256sum {} + | sort); }
before=$(sums)
py=python3
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    runas=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    # The system's Python: a per-user installation may not be readable.
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
else
    runas=()
fi
check "verify a read-only copy without the media key (as uid $("${runas[@]}" id -u))" \
    "${runas[@]}" "$lfr" audit verify --home "$ro" --checkpoint "$tmp/cosigned.note"
check "python verifies the read-only copy" "${runas[@]}" "$py" "$verifier" "$ro"
check "prove from the read-only copy" "${runas[@]}" "$lfr" audit prove 2 --home "$ro"
[ "$before" = "$(sums)" ] && ok "nothing in the copy was written" || bad "the copy changed"
chmod -R u+w "$ro"

# ---- S18: hidden bytes and types; text that is not UTF-8 -------------------------------------
refuse "text that is not UTF-8 is refused when written" "UTF-8" \
    env LFR_PASSWORD="$admin_pw" "$lfr" sharing add --user admin --recipient "$(printf 'caf\xe9')" \
    --purpose p --legal-basis l --dataset d --images 1 --security s
cp -a "$LFR_HOME" "$tmp/backup"
same_verdict() { # same_verdict NAME TEXT: both verifiers fail naming TEXT
    local a b
    a=$("$lfr" audit verify 2>&1)
    b=$(python3 "$verifier" "$LFR_HOME" 2>&1)
    if [[ "$a" == *"$2"* && "$b" == *"$2"* ]]; then ok "$1: both: $2"; else
        bad "$1: lfr: $a / python: $b"
    fi
}
sqlite3 "$LFR_HOME/lfr.db" "DROP TRIGGER audit_no_update;
    UPDATE audit SET detail = CAST(detail AS BLOB) WHERE seq = 3"
same_verdict "a BLOB-typed cell" "audit entry 3: entry has a field that is not text"
rm -rf "$LFR_HOME" && cp -a "$tmp/backup" "$LFR_HOME"
# A NUL byte inside entry 3's detail, with the chain recomputed over every
# byte: both verifiers hash the same bytes, so both find the same thing (the
# signed roots no longer match), not a hash mismatch in one of them.
python3 - "$LFR_HOME/lfr.db" <<'EOF'
import hashlib, sqlite3, struct, sys
def field(b): return struct.pack(">Q", len(b)) + b
db = sqlite3.connect(sys.argv[1]); db.text_factory = bytes
db.execute("DROP TRIGGER audit_no_update")
rows = db.execute("SELECT seq, time, actor, action, object, detail FROM audit ORDER BY seq").fetchall()
prev = bytes(32)
for seq, *f in rows:
    if seq == 3:
        f[4] = f[4][:-1] + b"\x00hidden}"
    enc = field(b"openlfr audit entry v1") + struct.pack(">Q", seq) + b"".join(field(x) for x in f) + prev
    h = hashlib.blake2b(enc, digest_size=32).digest()
    db.execute("UPDATE audit SET detail = CAST(? AS TEXT), prev_hash = ?, hash = ? WHERE seq = ?",
               (f[4], prev, h, seq))
    prev = h
db.commit()
EOF
same_verdict "a NUL byte hidden in a field" "the log was rewritten within entries 1 to"
rm -rf "$LFR_HOME" && cp -a "$tmp/backup" "$LFR_HOME"

# ---- S3: a forged entry, written with the database alone ----------------------------------------
python3 - "$LFR_HOME/lfr.db" <<'EOF'
import hashlib, sqlite3, struct, sys, time
def L(b): return struct.pack(">Q", len(b)) + b
db = sqlite3.connect(sys.argv[1])
pw = db.execute("SELECT pwhash FROM users WHERE name = 'u1'").fetchone()[0]
t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
db.execute("INSERT INTO users (name, role, pwhash, created_at, created_by)"
           " VALUES ('mallory', 'administrator', ?, ?, 'admin')", (pw, t))
uid = db.execute("SELECT id FROM users WHERE name = 'mallory'").fetchone()[0]
seq, prev = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
d = '{"id":%d,"role":"administrator"}' % uid
h = hashlib.blake2b(digest_size=32)
h.update(L(b"openlfr audit entry v1")); h.update(struct.pack(">Q", seq + 1))
for x in (t, "admin", "user.add", "user:mallory", d): h.update(L(x.encode()))
h.update(prev)
db.execute("INSERT INTO audit VALUES (?, ?, 'admin', 'user.add', 'user:mallory', ?, ?, ?)",
           (seq + 1, t, d, prev, h.digest()))
db.commit()
EOF
forged=$(sqlite3 "$LFR_HOME/lfr.db" 'SELECT max(seq) FROM audit')
same_verdict "a forged administrator (S3)" "audit entry $forged: entry was added without the log key"
refuse "the next write is refused, not anchored" "writes are stopped" \
    env LFR_PASSWORD="user 1 passphrase" LFR_NEW_PASSWORD="x passphrase 1" "$lfr" user add x \
    --role auditor --user mallory
refuse "re-anchoring needs a reason" "needs --reason" as_admin audit reanchor
check "an administrator re-anchors" as_admin audit reanchor --reason "forged user found; case 7"
out=$("$lfr" audit verify 2>&1) && [[ "$out" == *"re-anchored 1"* ]] &&
    ok "verify reports the re-anchoring" || bad "after re-anchoring: $out"
rm -rf "$LFR_HOME" && cp -a "$tmp/backup" "$LFR_HOME"

# ---- S8: the whole log rewritten with its key ----------------------------------------------------
# What the service account can do: delete the disclosure (its row and its
# entry) and the refused login, renumber and rechain the rest, rebuild the
# tree, sign with log.key, publish a matching checkpoint, write audit.head.
python3 - "$LFR_HOME" "$verifier" <<'EOF'
import base64, hashlib, importlib.util, sqlite3, sys
home, path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("av", path); av = importlib.util.module_from_spec(spec)
spec.loader.exec_module(av)
def compress(pt):
    zi = pow(pt[2], av.P - 2, av.P); x, y = pt[0] * zi % av.P, pt[1] * zi % av.P
    return (y | (x & 1) << 255).to_bytes(32, "little")
def sign(seed, msg):  # RFC 8032 5.1.6
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    A = compress(av._mul(a, av._G))
    r = int.from_bytes(hashlib.sha512(h[32:] + msg).digest(), "little") % av.ORDER
    R = compress(av._mul(r, av._G))
    k = int.from_bytes(hashlib.sha512(R + A + msg).digest(), "little") % av.ORDER
    return R + ((r + k * a) % av.ORDER).to_bytes(32, "little")
_, _, name, kid, b64 = open(home + "/log.key").read().strip().split("+", 4)
seed = base64.b64decode(b64)[1:]
db = sqlite3.connect(home + "/lfr.db"); db.text_factory = bytes
db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
                 " DROP TRIGGER log_checkpoints_no_delete; DELETE FROM log_checkpoints;"
                 " DELETE FROM audit WHERE action IN ('sharing.add', 'login.refused');"
                 " DELETE FROM sharing;")
prev, tree = bytes(32), av.Frontier()
rows = db.execute("SELECT seq, time, actor, action, object, detail FROM audit ORDER BY seq").fetchall()
for new, (old, *f) in enumerate(rows, 1):
    enc = av.encode(new, f, prev)
    h = hashlib.blake2b(enc, digest_size=32).digest()
    db.execute("UPDATE audit SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?", (new, prev, h, old))
    tree.push(av.leaf_hash(enc)); prev = h
body = "%s\n%d\n%s\n" % (name, tree.size, base64.b64encode(tree.root()).decode())
sig = bytes.fromhex(kid) + sign(seed, body.encode())
note = body + "\n\u2014 %s %s\n" % (name, base64.b64encode(sig).decode())
frontier = tree.size.to_bytes(8, "big") + b"".join(tree.h)
db.execute("UPDATE log_head SET size = ?, frontier = ?, note = ?", (tree.size, frontier, note))
db.execute("INSERT INTO log_checkpoints SELECT ?, time, 'entries', ? FROM audit WHERE seq = ?",
           (tree.size, note, tree.size))
db.commit()
open(home + "/audit.head", "w").write(note)
EOF
both "the rewritten log passes the home's own checks (the key allows it)"
refuse "lfr finds the rewrite against the kept checkpoint" "does not extend the checkpoint" \
    "$lfr" audit verify --checkpoint "$tmp/kept.note"
refuse "scripts/audit-verify.py finds it too" "does not extend the checkpoint" \
    python3 "$verifier" "$LFR_HOME" --checkpoint "$tmp/kept.note"
refuse "lfr cannot even ask the witness from its size: the log is shorter" "cut short" \
    "$lfr" audit checkpoint --old "$wsize"
# The holder of the key carries on writing, so that the log grows past what
# the witness saw; the witness still refuses it.
for i in 6 7 8; do
    LFR_PASSWORD=$admin_pw LFR_NEW_PASSWORD="user $i passphrase" "$lfr" user add "u$i" \
        --role auditor --user admin >/dev/null
done
check "request from the witness's size" "$lfr" audit checkpoint --old "$wsize" --out "$tmp/req2"
refuse "the witness refuses the rewritten log" "the log was rewritten or forked" \
    "$lfr" witness cosign "$tmp/req2" --dir "$wdir"
[ "$("$lfr" witness show --dir "$wdir" | sed -n 's/^size //p')" = "$wsize" ] &&
    ok "the witness's state did not move" || bad "the witness moved"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
