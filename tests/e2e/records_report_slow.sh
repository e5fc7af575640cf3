#!/usr/bin/env bash
# End-to-end: the deployment grid and the transparency report against the
# truth. Seeds users, a watchlist from ../shared/data/stills and LFW, three
# deployments (two run with alerts, adjudications and counters; one never
# authorised), a disclosure, a removal, and runs retention twice under a
# simulated clock; then checks every number of `lfr report grid` and
# `lfr report foi` (JSON) against what this script itself did, and that
# the Markdown and HTML forms carry the same figures.
#
#   tests/e2e/records_report_slow.sh build/lfr
#
# Needs python3, the models and the face data; exits 77 (skip) without them.
set -euo pipefail

lfr="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
seed="${LFR_SEED:-$(dirname "$lfr")/lfr_seed}"
data="${LFR_DATA:-../shared/data}"
models="${LFR_MODELS:-models}"

if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found"
    exit 77
fi
if [[ ! -f "$data/stills/obama.jpg" || ! -d "$data/lfw" || ! -f "$models/MobileFaceNet.tflite" ]]; then
    echo "SKIP: stills, LFW or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
if [[ ! -x "$seed" ]]; then
    echo "FAIL: $seed (lfr_seed) not built"
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_DATA="$data"
export TMPDIR="$work"

exec python3 - "$lfr" "$seed" "$data" "$work" <<'PY'
import json, os, random, re, subprocess, sys

lfr, seed, data, work = sys.argv[1:5]
rng = random.Random(20261124)
failures = []
checks = 0

def run(args, user=None, now=None, ok=True, stdin=None, pw="passphrase-1"):
    env = dict(os.environ)
    env["LFR_PASSWORD"] = pw
    env["LFR_NEW_PASSWORD"] = pw
    if now: env["LFR_FAKE_NOW"] = now
    cmd = [lfr] + args + (["--user", user] if user else [])
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, input=stdin)
    if ok and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)}: {p.stderr.strip()}")
    return p

def check(what, got, want):
    global checks
    checks += 1
    if isinstance(want, float) or isinstance(got, float):
        same = got is not None and want is not None and abs(got - want) <= 1e-6 * max(1, abs(want))
        same = same or (got is None and want is None)
    else:
        same = got == want
    if not same:
        failures.append(f"{what}: report says {got!r}, truth is {want!r}")

CATS = ["wanted_by_courts", "suspect", "bail_conditions", "missing_at_risk",
        "risk_of_harm", "associate", "witness", "victim"]
PROVS = ["custody_imaging", "other_police_source", "public_appeal", "other"]

# ---- Users -----------------------------------------------------------------
T0 = "2026-03-01T08:00:00Z"
# The whole record under the simulated clock: entry times may not go back.
run(["init"], now=T0)
run(["user", "add", "admin", "--role", "administrator"], now=T0)
for name, role in [("op1", "operator"), ("op2", "operator"), ("ao1", "authorising_officer"),
                   ("ao2", "authorising_officer"), ("aud", "auditor")]:
    run(["user", "add", name, "--role", role], user="admin", now=T0)

# ---- Watchlist ---------------------------------------------------------------
lfw = os.path.join(data, "lfw")
people = sorted(d for d in os.listdir(lfw) if os.path.isdir(os.path.join(lfw, d)))
rng.shuffle(people)
images = [os.path.join(data, "stills", f) for f in
          ["obama.jpg", "biden.jpg", "lin-manuel-miranda.png", "alex-lacamoire.png"]]
for p in people[:14]:
    first = sorted(os.listdir(os.path.join(lfw, p)))[0]
    images.append(os.path.join(lfw, p, first))

subjects = {}   # id -> dict(category, provenance, expires, image_id, removed_at)
for i, path in enumerate(images):
    cat = CATS[rng.randrange(8)]
    prov = PROVS[rng.randrange(4)]
    # A few expire between the two running deployments.
    expires = "2026-03-08" if i % 5 == 3 else "2027-06-30"
    p = run(["subject", "add", f"REF-{i:03d}", path, "--category", cat, "--reason",
             "seeded for the report test", "--expires", expires, "--provenance", prov],
            user="op1", now=T0, ok=False)
    if p.returncode != 0:
        continue  # refused (not exactly one face): not on the watchlist
    sid = int(re.search(r"added subject (\d+)", p.stdout).group(1))
    show = run(["subject", "show", str(sid)], user="op1", now=T0).stdout
    iid = int(re.search(r"^image (\d+)", show, re.M).group(1))
    subjects[sid] = dict(category=cat, provenance=prov, expires=expires + "T23:59:59.999Z",
                         image=iid, removed=None)
if len(subjects) < 12:
    sys.exit(f"FAIL: only {len(subjects)} subjects enrolled")

# One subject is taken off before any deployment: a removal receipt.
removed_id = sorted(subjects)[1]
run(["subject", "remove", str(removed_id)], user="op1", now=T0)
subjects[removed_id]["removed"] = "2026-03-01T08:00:00.000Z"

# ---- Deployments ------------------------------------------------------------------
deps = {}
def create(user, inst, start, end, cams, cats=None, now=T0, threshold="0.6"):
    args = ["deployment", "create", "--purpose", f"Seeded {inst} deployment",
            "--justification", "Test of the records", "--legal-basis", "Common law policing",
            "--location", f"Test site {len(deps) + 1}", "--lat", "51.4816", "--lon", "-3.1791",
            "--installation", inst, "--start", start, "--end", end, "--threshold", threshold,
            "--dpia", "DPIA-1"]
    for c in cams: args += ["--camera", f"{c}=rtsp://example.invalid/{c}"]
    if cats: args += ["--categories", ",".join(cats)]
    p = run(args, user=user, now=now)
    did = int(re.search(r"created deployment (\d+)", p.stdout).group(1))
    deps[did] = dict(inst=inst, start=start, end=end, cams=cams,
                     cats=cats or CATS, alerts=[], faces=0, frames=0, ran=False)
    return did

A = create("op1", "temporary", "2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z", ["north", "south"])
B = create("ao2", "permanent", "2026-03-10T08:00:00Z", "2026-03-10T20:00:00Z", ["gate"],
           cats=["wanted_by_courts", "suspect", "missing_at_risk", "risk_of_harm", "victim"])
C = create("op2", "mobile_unit", "2026-03-12T08:00:00Z", "2026-03-12T12:00:00Z", ["van"])

run(["deployment", "authorise", str(A)], user="ao1", now=T0)
run(["deployment", "authorise", str(B)], user="ao1", now=T0)
# Self-authorisation is refused.
p = run(["deployment", "authorise", str(B)], user="ao2", now=T0, ok=False)
check("self-authorisation refused", p.returncode != 0, True)

OUTCOMES = ["true", "false", "confirmed_true", "confirmed_false", None]
ENG = ["not_stopped", "spoken_to", "arrested", "other_disposal", None]

def run_deployment(did, start_at, day):
    d = deps[did]
    run(["deployment", "start", str(did)], user="op1", now=start_at)
    d["ran"] = True
    d["started"] = start_at
    # The watchlist frozen: live subjects of its categories, unexpired now.
    frozen = [s for s, v in subjects.items() if v["removed"] is None and v["category"] in d["cats"]]
    d["expired_left_out"] = sum(1 for s in frozen if subjects[s]["expires"] <= start_at.replace("Z", ".000Z"))
    d["frozen"] = [s for s in frozen if subjects[s]["expires"] > start_at.replace("Z", ".000Z")]
    lines = []
    for cam in d["cams"]:
        for _ in range(3):  # three flushes of counters per camera
            frames, faces = rng.randrange(500, 3000), rng.randrange(20, 400)
            d["frames"] += frames
            d["faces"] += faces
            lines.append(f"count {did} {cam} {frames} {rng.randrange(0, 5)} {faces * 3} {faces} {rng.randrange(0, 9)}")
    n_alerts = rng.randrange(6, 12)
    crop = os.path.join(data, "stills", "obama.jpg")
    for k in range(n_alerts):
        s = rng.choice(d["frozen"])
        cam = rng.choice(d["cams"])
        score = round(0.6 + rng.random() * 0.35, 4)
        t = f"{day}T{10 + k % 6:02d}:{rng.randrange(60):02d}:00Z"
        lines.append(f"alert {did} {cam} {subjects[s]['image']} {score} {t} {k + 1} {crop}")
        d["alerts"].append(dict(subject=s, time=t))
    env = dict(os.environ, LFR_PASSWORD="passphrase-1", LFR_FAKE_NOW=start_at)
    p = subprocess.run([seed, "op1"], input="\n".join(lines) + "\n", env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: lfr_seed: {p.stderr.strip()}")
    ids = [int(x) for x in re.findall(r"alert (\d+)", p.stdout)]
    for a, i in zip(d["alerts"], ids):
        a["id"] = i
        out, eng = rng.choice(OUTCOMES), rng.choice(ENG)
        a["outcome"], a["engagement"] = out or "not_adjudicated", "none"
        if out:
            args = ["alert", "adjudicate", str(i), "--outcome", out]
            if eng: args += ["--engagement", eng]
            run(args, user=rng.choice(["op1", "op2"]), now=start_at)
            if eng: a["engagement"] = eng
    # One alert is judged twice: only the newest judgement counts.
    a = d["alerts"][0]
    run(["alert", "adjudicate", str(a["id"]), "--outcome", "confirmed_false",
         "--engagement", "spoken_to"], user="op2", now=start_at)
    a["outcome"], a["engagement"] = "confirmed_false", "spoken_to"
    stop_at = f"{day}T{18 if did == A else 19}:30:00Z"
    run(["deployment", "stop", str(did)], user="op1", now=stop_at)
    d["stopped"] = stop_at

# In time order: entry times may not go back.
run_deployment(A, "2026-03-02T09:05:00Z", "2026-03-02")
run(["sharing", "add", "--recipient", "Independent review", "--purpose", "Audit of alerts",
     "--legal-basis", "DPA 2018 s.35", "--dataset", "alert crops of deployment 1",
     "--images", "4", "--security", "encrypted transfer", "--date", "2026-03-05"],
    user="admin", now="2026-03-06T10:00:00Z")
run_deployment(B, "2026-03-10T08:02:00Z", "2026-03-10")

# ---- Retention at day 35 (crops of A past 31 days, B's not), twice -------------------------
R1 = "2026-04-05T12:00:00Z"
for _ in range(2):
    run(["retention", "run"], user="admin", now=R1)
v = run(["audit", "verify"], now=R1)
check("audit verify after retention", v.returncode, 0)

# ---- Truth -----------------------------------------------------------------------------------
def is_true(o): return o in ("true", "confirmed_true")
def is_false(o): return o in ("false", "confirmed_false")
def truth_row(did):
    d = deps[did]
    al = d["alerts"]
    t = dict(alerts=len(al), true=sum(is_true(a["outcome"]) for a in al),
             false=sum(is_false(a["outcome"]) for a in al),
             na=sum(a["outcome"] == "not_adjudicated" for a in al),
             eng=sum(a["engagement"] in ("spoken_to", "arrested", "other_disposal") for a in al),
             arrests=sum(a["engagement"] == "arrested" for a in al), faces=d["faces"],
             frames=d["frames"])
    fr = d.get("frozen", [])
    t["images"] = len(fr)
    t["by_cat"] = {c: sum(1 for s in fr if subjects[s]["category"] == c) for c in d["cats"]}
    t["by_prov"] = {p: sum(1 for s in fr if subjects[s]["provenance"] == p) for p in PROVS}
    t["rate"] = t["false"] / t["faces"] if t["faces"] else None
    return t

truth = {did: truth_row(did) for did in deps}

# ---- The grid ----------------------------------------------------------------------------------
g = json.loads(run(["report", "grid", "--format", "json", "--from", "2026-03-01",
                    "--to", "2026-03-31"], user="aud", now=R1).stdout)
check("grid rows", [r["id"] for r in g["deployments"]], sorted(deps))
for r in g["deployments"]:
    did, t, d = r["id"], truth[r["id"]], deps[r["id"]]
    check(f"grid {did} installation", r["installation"], d["inst"])
    check(f"grid {did} date", r["date"], (d.get("started") or d["start"])[:10])
    check(f"grid {did} start", r["start"][:16], (d.get("started") or d["start"])[:16])
    check(f"grid {did} end", r["end"][:16], (d.get("stopped") or d["end"])[:16])
    check(f"grid {did} location", r["location"], f"Test site {did}")
    check(f"grid {did} purpose", r["purpose"], f"Seeded {d['inst']} deployment")
    check(f"grid {did} watchlist", r["watchlist_images"], t["images"])
    check(f"grid {did} watchlist by category", r["watchlist_by_category"],
          t["by_cat"] if d["ran"] else {c: 0 for c in d["cats"]})
    for key, tk in [("faces_seen", "faces"), ("frames", "frames"), ("alerts", "alerts"),
                    ("true_alerts", "true"), ("false_alerts", "false"),
                    ("not_adjudicated", "na"), ("engagements", "eng"), ("arrests", "arrests")]:
        check(f"grid {did} {key}", r[key], t[tk])
    check(f"grid {did} false_alert_rate", r["false_alert_rate"], t["rate"])

# A range that holds deployment A only.
g1 = json.loads(run(["report", "grid", "--format", "json", "--from", "2026-03-02",
                     "--to", "2026-03-03"], user="aud", now=R1).stdout)
check("grid range filter", [r["id"] for r in g1["deployments"]], [A])

# CSV: the same numbers per row.
csv = run(["report", "grid", "--format", "csv", "--from", "2026-03-01", "--to", "2026-03-31"],
          user="aud", now=R1).stdout.strip().splitlines()
check("csv rows", len(csv), 1 + len(deps))
import csv as csvmod
rows = list(csvmod.DictReader(csv))
for r in rows:
    t = truth[int(r["id"])]
    check(f"csv {r['id']} faces_seen", int(r["faces_seen"]), t["faces"])
    check(f"csv {r['id']} false_alerts", int(r["false_alerts"]), t["false"])
    check(f"csv {r['id']} watchlist_total", int(r["watchlist_total"]), t["images"])

# ---- The FOI report ----------------------------------------------------------------------------
f = json.loads(run(["report", "foi", "--format", "json", "--from", "2026-03-01",
                    "--to", "2026-04-30"], user="aud", now=R1).stdout)
check("foi deployments", f["deployments"]["count"], len(deps))
for inst in ("temporary", "permanent", "mobile_unit"):
    check(f"foi {inst}", f["deployments"][inst], sum(d["inst"] == inst for d in deps.values()))
for r in f["deployments"]["list"]:
    did, t = r["id"], truth[r["id"]]
    check(f"foi {did} faces", r["faces_seen"], t["faces"])
    check(f"foi {did} alerts", r["alerts"], t["alerts"])
    check(f"foi {did} true", r["true_alerts"], t["true"])
    check(f"foi {did} false", r["false_alerts"], t["false"])
    check(f"foi {did} action", r["led_to_action"], t["eng"])
    check(f"foi {did} arrests", r["arrests"], t["arrests"])
    check(f"foi {did} watchlist", r["watchlist"]["images"], t["images"])
    check(f"foi {did} by provenance", r["watchlist"]["by_provenance"], t["by_prov"])
    check(f"foi {did} expired left out", r["watchlist"]["expired_left_out"],
          deps[did].get("expired_left_out", 0))
    check(f"foi {did} authorised by", r["authorised_by"], "ao1" if did in (A, B) else "")
    check(f"foi {did} legal basis", r["legal_basis"], "Common law policing")
all_alerts = [a for d in deps.values() for a in d["alerts"]]
tot = f["alerts"]
check("foi faces total", f["faces_scanned"]["total"], sum(t["faces"] for t in truth.values()))
check("foi alerts total", tot["total"], len(all_alerts))
check("foi true", tot["true"], sum(is_true(a["outcome"]) for a in all_alerts))
check("foi false", tot["false"], sum(is_false(a["outcome"]) for a in all_alerts))
check("foi confirmed true", tot["confirmed_true"], sum(a["outcome"] == "confirmed_true" for a in all_alerts))
check("foi confirmed false", tot["confirmed_false"], sum(a["outcome"] == "confirmed_false" for a in all_alerts))
check("foi not adjudicated", tot["not_adjudicated"], sum(a["outcome"] == "not_adjudicated" for a in all_alerts))
for e in ("spoken_to", "other_disposal", "not_stopped"):
    check(f"foi {e}", tot[e], sum(a["engagement"] == e for a in all_alerts))
check("foi arrests", tot["arrests"], sum(a["engagement"] == "arrested" for a in all_alerts))
check("foi led to action", tot["led_to_action"],
      sum(a["engagement"] in ("spoken_to", "arrested", "other_disposal") for a in all_alerts))
for c in CATS:
    check(f"foi watchlist {c}", f["watchlists"]["images_by_category"][c],
          sum(t["by_cat"].get(c, 0) for t in truth.values()))
for p in PROVS:
    check(f"foi provenance {p}", f["watchlists"]["images_by_provenance"][p],
          sum(t["by_prov"][p] for t in truth.values()))
ret = f["retention"]
check("policy crop days", ret["policy"]["alert_crop_days"], 31)
check("policy snapshot hours", ret["policy"]["snapshot_purge_hours"], 24)
live = [s for s, v in subjects.items() if v["removed"] is None]
expired = [s for s in live if subjects[s]["expires"] <= R1.replace("Z", ".000Z")]
check("retained watchlist images", ret["retained_now"]["watchlist_images"], len(live) - len(expired))
check("retained expired images", ret["retained_now"]["expired_images_awaiting_deletion"], 0)
crops_a = len(deps[A]["alerts"])
check("retained alert crops", ret["retained_now"]["alert_crops"], len(deps[B]["alerts"]))
check("retained snapshots", ret["retained_now"]["snapshots"], 0)
dl = ret["deleted"]
check("deleted alert crops", dl["alert_crops"], crops_a)
check("deleted snapshots", dl["snapshots"], 2)
check("deleted snapshot templates", dl["snapshot_templates"], truth[A]["images"] + truth[B]["images"])
check("deleted expired images", dl["expired_subject_images"], len(expired))
check("removed subjects", dl["removed_subjects"], 1)
check("removed subject images", dl["removed_subject_images"], 1)
check("retention runs", dl["retention_runs"], 2)
check("receipts", dl["receipts"], 1 + (1 if crops_a else 0) + 2 + len(expired))
check("sharing count", f["sharing"]["count"], 1)
check("sharing images", f["sharing"]["images"], 4)
check("evaluations", f["evaluations"]["count"], 0)
check("demographics statement", "no field for one" in f["demographics"], True)
for key in ("faces_scanned", "alerts", "watchlists"):
    check(f"{key} names its source", bool(f[key].get("source")), True)

# ---- Markdown and HTML carry the same figures ------------------------------------------------
md = run(["report", "foi", "--format", "md", "--from", "2026-03-01", "--to", "2026-04-30"],
         user="aud", now=R1).stdout
html = run(["report", "foi", "--format", "html", "--from", "2026-03-01", "--to", "2026-04-30"],
           user="aud", now=R1).stdout
for text, name in ((md, "md"), (html, "html")):
    check(f"{name} faces", f"{f['faces_scanned']['total']} faces seen in total" in text, True)
    check(f"{name} alerts", f"{tot['total']} alerts: {tot['true']} true" in text, True)
    check(f"{name} sources", text.count("Source: ") >= 8, True)
check("html is a document", html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"), True)

# Each report was audited.
al = run(["audit", "list", "--action", "report.foi"], user="aud", now=R1).stdout
check("report.foi audited", len(al.strip().splitlines()) >= 3, True)
check("final audit verify", run(["audit", "verify"], now=R1).returncode, 0)

for m in failures:
    print("FAIL:", m)
print(f"{checks} checks, {len(failures)} failed; {len(subjects)} subjects, "
      f"{len(all_alerts)} alerts in {sum(d['ran'] for d in deps.values())} deployments")
sys.exit(1 if failures else 0)
PY
