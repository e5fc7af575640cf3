#!/usr/bin/env bash
# Robustness of `lfr run`: one deployment with three cameras:
#   live     the clip served over HTTP (MPEG-TS) by a local ffmpeg that this
#            test kills mid-stream and restarts: the camera must reconnect
#            and keep counting frames;
#   corrupt  a file of garbage named .mp4: one clear error line;
#   nowhere  rtsp://127.0.0.1:<closed port>/x: clear error lines (it is
#            retried with backoff, and stays down);
# the live camera runs on regardless. SIGTERM then stops the run cleanly:
# exit status, counters flushed to the records, audit chain intact.
#
#   tests/e2e/live_robust_slow.sh build/lfr
set -euo pipefail

lfr="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
data="${LFR_DATA:-../shared/data}"
models="${LFR_MODELS:-models}"
clip="$data/video/short_hamilton_clip.mp4"
if ! command -v ffmpeg >/dev/null || ! command -v python3 >/dev/null; then
    echo "SKIP: ffmpeg or python3 not found"
    exit 77
fi
if [[ ! -f "$clip" || ! -f "$models/MobileFaceNet.tflite" ]]; then
    echo "SKIP: clip or models not found (set LFR_DATA, LFR_MODELS)"
    exit 77
fi
models="$(cd "$models" && pwd)"
work="$(mktemp -d)"
server=""
runner=""
cleanup() {
    [[ -n "$server" ]] && kill "$server" 2>/dev/null || true
    [[ -n "$runner" ]] && kill -9 "$runner" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_PASSWORD="passphrase-1" \
    LFR_NEW_PASSWORD="passphrase-1" TMPDIR="$work"
fail() {
    echo "FAIL: $*"
    echo "--- run log"
    cat "$work/run.log" || true
    exit 1
}

port=$((20000 + RANDOM % 20000))
closed=$((port + 1))
serve() {
    ffmpeg -loglevel error -re -stream_loop -1 -i "$clip" -c copy -f mpegts -listen 1 \
        "http://127.0.0.1:$port/live.ts" </dev/null >>"$work/server.log" 2>&1 &
    server=$!
}
head -c 200000 /dev/urandom >"$work/corrupt.mp4"

"$lfr" init >/dev/null
"$lfr" user add admin --role administrator >/dev/null
"$lfr" user add op --role operator --user admin >/dev/null
"$lfr" user add ao --role authorising_officer --user admin >/dev/null
"$lfr" subject add JOE-BIDEN "$data/stills/biden.jpg" --category wanted_by_courts \
    --reason test --expires 2030-01-01 --user op >/dev/null
start="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"
end="$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)"
dep="$("$lfr" deployment create --user op --purpose "robustness test" --justification test \
    --legal-basis test --location Lab --lat 0 --lon 0 --installation temporary \
    --start "$start" --end "$end" --threshold 0.6 \
    --camera "live=http://127.0.0.1:$port/live.ts" --camera "corrupt=$work/corrupt.mp4" \
    --camera "nowhere=rtsp://127.0.0.1:$closed/x" |
    sed -n 's/^created deployment \([0-9]*\).*/\1/p')"
"$lfr" deployment authorise "$dep" --user ao >/dev/null

serve
sleep 1
"$lfr" run --deployment "$dep" --user op --events "$work/events.jsonl" --stats "$work/stats.json" --flush 1 \
    2>"$work/run.log" &
runner=$!

frames_of_live() { # frames counted so far, from the events' counters or the log
    python3 - "$work/events.jsonl" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("type") == "counters" and e.get("camera") == "live": n = e["frames"]
print(n)
PY
}

sleep 12
kill "$server"
wait "$server" 2>/dev/null || true
server=""
before="$(frames_of_live)"
sleep 4
serve
sleep 16
kill -TERM "$runner"
rc=0
wait "$runner" || rc=$?
runner=""
[[ $rc -eq 0 || $rc -eq 1 ]] || fail "lfr run ended with status $rc on SIGTERM"

python3 - "$work" "$before" <<'PY' || fail "see above"
import json, re, sys
work, before = sys.argv[1], int(sys.argv[2])
log = open(f"{work}/run.log").read()
st = {c["name"]: c for c in json.load(open(f"{work}/stats.json"))["cameras"]}
bad = []
live = st["live"]
if live["reconnects"] < 1: bad.append(f"live camera: {live['reconnects']} reconnects")
if live["frames"] < 250: bad.append(f"live camera: only {live['frames']} frames")
if before < 100: bad.append(f"live camera: only {before} frames before the server was killed")
if live["frames"] < before + 200: bad.append(f"live camera did not keep counting after the restart ({before} -> {live['frames']})")
corrupt = [l for l in log.splitlines() if "corrupt" in l]
if not corrupt: bad.append("no error line for the corrupt file")
elif len(corrupt) > 3: bad.append(f"{len(corrupt)} lines for the corrupt file")
nowhere = [l for l in log.splitlines() if "nowhere" in l]
if not nowhere: bad.append("no error line for the unreachable URL")
if st["nowhere"]["frames"] or st["corrupt"]["frames"]: bad.append("frames from a dead camera")
for l in corrupt[:1] + nowhere[:1]: print("log:", l)
print(f"live: {live['frames']} frames, {live['reconnects']} reconnects, {before} frames before the restart")
for b in bad: print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
show="$("$lfr" deployment show "$dep" --user op)"
grep -q "camera live .*frames [1-9]" <<<"$show" || fail "live camera's frames not in the records"
"$lfr" audit verify >/dev/null || fail "audit verify"
echo "ok"
