#!/usr/bin/env bash
# Privacy by construction: a deployment on a clip where nobody is
# watchlisted (the watchlist holds Joe Biden, who is not in
# short_hamilton_clip.mp4) ends with zero alerts and faces seen, and leaves
# no template or crop of anyone under the home folder, in the log, in the
# event stream or in the temporary directory.
#
# lfr_templates (tests/tools) computes, with the pipeline's own decoder,
# detector and embedder, the template of every face in every frame: a
# superset of what the pipeline embeds. Every file is searched for the raw
# bytes of each (whole, and its first 8 bytes), for their printed values,
# and for JPEG markers (a crop). A planted template proves the search works.
#
#   tests/e2e/live_privacy_slow.sh build/lfr
set -euo pipefail

lfr="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tpl_tool="$(dirname "$lfr")/lfr_templates"
data="${LFR_DATA:-../shared/data}"
models="${LFR_MODELS:-models}"
clip="$data/video/short_hamilton_clip.mp4"
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found"
    exit 77
fi
if [[ ! -f "$clip" || ! -f "$data/stills/biden.jpg" || ! -f "$models/MobileFaceNet.tflite" ]]; then
    echo "SKIP: clip, stills or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
models="$(cd "$models" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp"
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_PASSWORD="passphrase-1" \
    LFR_NEW_PASSWORD="passphrase-1" TMPDIR="$work/tmp"

"$lfr" init >/dev/null
"$lfr" user add admin --role administrator >/dev/null
"$lfr" user add op --role operator --user admin >/dev/null
"$lfr" user add ao --role authorising_officer --user admin >/dev/null
"$lfr" subject add JOE-BIDEN "$data/stills/biden.jpg" --category wanted_by_courts \
    --reason test --expires 2030-01-01 --user op >/dev/null
start="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"
end="$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)"
dep="$("$lfr" deployment create --user op --purpose "privacy test" --justification test \
    --legal-basis test --location Theatre --lat 40.759 --lon -73.987 --installation temporary \
    --start "$start" --end "$end" --threshold 0.5 --camera "stage=$clip" |
    sed -n 's/^created deployment \([0-9]*\).*/\1/p')"
"$lfr" deployment authorise "$dep" --user ao >/dev/null
"$lfr" run --deployment "$dep" --user op --events "$work/events.jsonl" \
    --stats "$work/stats.json" --stop 2>"$work/run.log"
"$tpl_tool" "$models" "$clip" "$work/templates.bin" 2>"$work/templates.log"
cat "$work/templates.log"

exec python3 - "$lfr" "$work" "$dep" <<'PY'
import json, os, struct, subprocess, sys
lfr, work, dep = sys.argv[1:4]
failures = []
stats = json.load(open(os.path.join(work, "stats.json")))["cameras"][0]
events = [json.loads(l) for l in open(os.path.join(work, "events.jsonl"))]
alerts = [e for e in events if e.get("type") == "alert"]
listed = subprocess.run([lfr, "alert", "list", "--user", "op"], capture_output=True,
                        text=True).stdout.strip()
if alerts or listed: failures.append(f"{len(alerts)} alerts on a clip with nobody watchlisted")
if stats["faces_seen"] <= 0: failures.append("no face seen")
show = subprocess.run([lfr, "deployment", "show", dep, "--user", "op"], capture_output=True,
                      text=True).stdout
if f"faces seen {stats['faces_seen']}" not in show:
    failures.append("faces seen not recorded in the deployment's counters")

raw = open(os.path.join(work, "templates.bin"), "rb").read()
dim = 192 * 4
tpls = sorted({raw[i:i + dim] for i in range(0, len(raw) - dim + 1, dim)})
if len(tpls) < 50: failures.append(f"only {len(tpls)} templates computed")
needles = set()
for t in tpls:
    needles.add(t)          # the whole template
    needles.add(t[:8])      # its first two floats
    v = struct.unpack("<3f", t[:12])
    for fmt in ("%.6f", "%.5f", "%.4f", "%g"):
        needles.add((", ".join(fmt % x for x in v)).encode())
        needles.add((" ".join(fmt % x for x in v)).encode())
jpeg = [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\xff\xd8\xff\xe1", b"JFIF"]

def files():
    for root in (os.path.join(work, "home"), os.path.join(work, "tmp")):
        for d, _, fs in os.walk(root):
            for f in fs: yield os.path.join(d, f)
    for f in ("run.log", "events.jsonl", "stats.json"):
        yield os.path.join(work, f)

def scan(path):
    data = open(path, "rb").read()
    found = [n for n in needles if data.find(n) >= 0]
    crops = [m for m in jpeg if data.find(m) >= 0]
    return found, crops

# Positive control: a planted template is found.
plant = os.path.join(work, "home", "media", "planted")
open(plant, "wb").write(b"x" * 1001 + tpls[len(tpls) // 2] + b"y" * 77)
found, _ = scan(plant)
if not found: failures.append("the search missed a planted template: the test is broken")
os.remove(plant)

n_files = n_bytes = 0
for path in files():
    n_files += 1
    n_bytes += os.path.getsize(path)
    found, crops = scan(path)
    if found: failures.append(f"{path}: holds {len(found)} template fragments in plain text")
    if crops: failures.append(f"{path}: holds JPEG data (a crop?)")
print(f"searched {n_files} files ({n_bytes} bytes) for {len(tpls)} templates "
      f"({len(needles)} needles); faces seen {stats['faces_seen']}, tracks {stats['tracks']}, "
      f"embeds {stats['embeds']}, alerts {len(alerts)}")
for f in failures: print("FAIL:", f)
sys.exit(1 if failures else 0)
PY
