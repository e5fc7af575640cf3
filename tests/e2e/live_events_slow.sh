#!/usr/bin/env bash
# Live events end to end, through `lfr run` (the supervisor's foreground
# client):
#   - every event variant (lfr_events_sample) and every event of a run on
#     the clip validates against schemas/events/ (scripts/validate-events.py,
#     python3-jsonschema); an event with a field the schema lacks, or
#     without its frame position, is refused (the check can fail);
#   - the run's alerts carry their frame's number and media time and match
#     the alerts recorded; no alert is lost;
#   - the same events reach a webhook receiver that checks each HMAC-SHA256
#     signature over "<timestamp>.<body>", after it refused the first two
#     POSTs (retried with back-off);
#   - a second `lfr run` of a deployment that is running is refused (the
#     run lock holds across processes), and --events refuses an existing
#     file unless --append.
#
#   tests/e2e/live_events_slow.sh build/lfr
set -euo pipefail

lfr="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${LFR_DATA:-../shared/data}"
models="${LFR_MODELS:-models}"
sample="${LFR_EVENTS_SAMPLE:-$(dirname "$lfr")/lfr_events_sample}"
clip="$data/video/short_hamilton_clip.mp4"
if ! python3 -c "import jsonschema" 2>/dev/null; then
    echo "SKIP: python3-jsonschema not installed (scripts/setup.sh)"
    exit 77
fi
if [[ ! -f "$clip" || ! -f "$models/MobileFaceNet.tflite" ]]; then
    echo "SKIP: clip or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
models="$(cd "$models" && pwd)"
work="$(mktemp -d)"
receiver=""
runner=""
cleanup() {
    [[ -n "$receiver" ]] && kill "$receiver" 2>/dev/null || true
    [[ -n "$runner" ]] && kill -9 "$runner" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_PASSWORD="passphrase-1" \
    LFR_NEW_PASSWORD="passphrase-1" TMPDIR="$work"
fail() {
    echo "FAIL: $*"
    for f in run.log run2.log receiver.log; do
        [[ -f "$work/$f" ]] && { echo "--- $f"; tail -20 "$work/$f"; }
    done
    exit 1
}
validate() { python3 "$repo/scripts/validate-events.py" "$@"; }

# Every variant, then the check failing on what it must refuse.
"$sample" >"$work/sample.jsonl"
validate --count "$work/sample.jsonl" || fail "sample events do not match their schemas"
for t in alert gap camera counters deployment alert_lost; do
    grep -q "\"type\":\"$t\"" "$work/sample.jsonl" || fail "no $t event in the sample"
done
grep -q '"redacted":true' "$work/sample.jsonl" || fail "no redacted alert in the sample"
sed -n '1s/"score":/"template":[0.1,0.2],"score":/p' "$work/sample.jsonl" >"$work/bad.jsonl"
sed -n '1s/"frame":{[^}]*},//p' "$work/sample.jsonl" >>"$work/bad.jsonl"
sed -n '/"redacted":true/{s/"redacted":true,/"redacted":true,"subject":{"id":7,"reference":"S-0042","category":"suspect"},/p;q}' \
    "$work/sample.jsonl" >>"$work/bad.jsonl"
[[ $(wc -l <"$work/bad.jsonl") -eq 3 ]] || fail "could not make the bad events"
if validate "$work/bad.jsonl" >"$work/bad.out"; then fail "bad events passed the schemas"; fi
[[ $(grep -c . "$work/bad.out") -ge 3 ]] || fail "not every bad event was refused: $(cat "$work/bad.out")"

# A home, the stills as a watchlist, two deployments on the clip.
"$lfr" init >/dev/null
"$lfr" user add admin --role administrator >/dev/null
"$lfr" user add op --role operator --user admin >/dev/null
"$lfr" user add ao --role authorising_officer --user admin >/dev/null
"$lfr" subject add LIN "$data/stills/lin-manuel-miranda.png" --category wanted_by_courts \
    --reason test --expires 2035-01-01 --user op >/dev/null
"$lfr" subject add BIDEN "$data/stills/biden.jpg" --category suspect \
    --reason test --expires 2035-01-01 --user op >/dev/null
start="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"
end="$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)"
deployment() {
    "$lfr" deployment create --user op --purpose "events test" --justification test \
        --legal-basis test --location Lab --lat 0 --lon 0 --installation temporary \
        --start "$start" --end "$end" --threshold 0.5 --camera "stage=$clip" |
        sed -n 's/^created deployment \([0-9]*\).*/\1/p'
}
dep="$(deployment)"
dep2="$(deployment)"
"$lfr" deployment authorise "$dep" --user ao >/dev/null
"$lfr" deployment authorise "$dep2" --user ao >/dev/null

# The webhook receiver: checks signatures, refuses the first two POSTs.
port=$((20000 + RANDOM % 20000))
head -c 32 /dev/urandom | base64 | tr -d '\n' >"$work/hook.key"
chmod 600 "$work/hook.key"
python3 - "$port" "$work/hook.key" "$work/hooks.jsonl" >"$work/receiver.log" 2>&1 <<'PY' &
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, keyfile, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = open(keyfile, "rb").read().strip()
state = {"n": 0}
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        state["n"] += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if state["n"] <= 2:
            self.send_response(500); self.end_headers(); return
        ts = self.headers.get("X-LFR-Timestamp", "")
        want = "v1=" + hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-LFR-Signature", ""))
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        rec = {"sig": ok, "fresh": fresh, "type": self.headers.get("X-LFR-Event"),
               "id": self.headers.get("X-LFR-Event-Id"),
               "ctype": self.headers.get("Content-Type"), "body": body.decode()}
        with open(out, "a") as f: f.write(json.dumps(rec) + "\n")
        self.send_response(204 if ok else 401); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
receiver=$!
sleep 1

# The run, with both an events file and the webhook.
"$lfr" run --deployment "$dep" --user op --events "$work/events.jsonl" --stop \
    --webhook "http://127.0.0.1:$port/hook" --webhook-key "$work/hook.key" \
    2>"$work/run.log" || fail "lfr run failed"
validate --count "$work/events.jsonl" || fail "the run's events do not match their schemas"
listed="$("$lfr" alert list --user op --deployment "$dep" | grep -c . || true)"
python3 - "$work/events.jsonl" "$work/hooks.jsonl" "$listed" <<'PY' || fail "see above"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
hooks = [json.loads(l) for l in open(sys.argv[2])]
listed = int(sys.argv[3])
bad = []
alerts = [e for e in events if e["type"] == "alert"]
if not alerts: bad.append("no alert on the clip")
if len(alerts) != listed: bad.append(f"{len(alerts)} alert events, {listed} alerts recorded")
if any(e["type"] == "alert_lost" for e in events): bad.append("an alert was lost")
for a in alerts:
    if a["subject"]["reference"] != "LIN": bad.append(f"alert for {a['subject']['reference']}")
    if a["frame"]["number"] < 1: bad.append("an alert without its frame number")
print("alerts at frames", [(a["frame"]["number"], a["frame"]["media_time"]) for a in alerts])
last = [e for e in events if e["type"] == "counters"][-1]
if last["frames"] != 275: bad.append(f"final counters: {last['frames']} frames, not 275")
states = [(e["state"], e["running"]) for e in events if e["type"] == "deployment"]
if states[0] != ("running", True) or states[-1] != ("stopped", False):
    bad.append(f"deployment events {states}")
ids = [e["id"] for e in events]
if len(set(ids)) != len(ids): bad.append("repeated event ids")
# The webhook: every event, each signed, fresh, as JSON; the first two POSTs refused and retried.
if not all(h["sig"] and h["fresh"] for h in hooks): bad.append("a webhook signature did not check")
if any(h["ctype"] != "application/json" for h in hooks): bad.append("webhook content type")
got = [json.loads(h["body"]) for h in hooks]
if sorted(g["id"] for g in got) != sorted(ids):
    bad.append(f"webhook got {len(got)} events, the file {len(ids)}")
if any(h["type"] != g["type"] or h["id"] != g["id"] for h, g in zip(hooks, got)):
    bad.append("webhook headers do not match the bodies")
print(f"{len(events)} events; webhook: {len(hooks)} delivered and signed")
for b in bad: print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
python3 -c "
import json, sys
for l in open('$work/hooks.jsonl'): print(json.loads(l)['body'])" >"$work/hook_bodies.jsonl"
validate "$work/hook_bodies.jsonl" || fail "webhook bodies do not match their schemas"

# --events refuses an existing file.
if "$lfr" run --deployment "$dep2" --user op --events "$work/events.jsonl" 2>"$work/run2.log"; then
    fail "--events overwrote or appended to an existing file"
fi
grep -q "exists" "$work/run2.log" || fail "no clear message for an existing events file"

# One run per deployment, across processes.
"$lfr" run --deployment "$dep2" --user op --realtime --loop --events "$work/events2.jsonl" \
    2>"$work/run.log" &
runner=$!
for _ in $(seq 100); do
    grep -q '"state":"running"' "$work/events2.jsonl" 2>/dev/null && break
    sleep 0.2
done
if "$lfr" run --deployment "$dep2" --user op 2>"$work/run2.log"; then
    fail "a second lfr run of a running deployment was not refused"
fi
grep -q "already running in another process" "$work/run2.log" ||
    fail "second run: $(cat "$work/run2.log")"
kill -TERM "$runner"
rc=0
wait "$runner" || rc=$?
runner=""
[[ $rc -le 1 ]] || fail "lfr run ended with status $rc on SIGTERM"
grep -q '"running":false' "$work/events2.jsonl" || fail "no run-ended event after SIGTERM"
validate "$work/events2.jsonl" || fail "the second run's events do not match their schemas"
"$lfr" audit verify >/dev/null || fail "audit verify"
echo "ok"
