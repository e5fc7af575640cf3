#!/usr/bin/env bash
# bench/live: the live pipeline on the Hamilton clip scaled to 720p and to
# 1080p at 25 fps (ffmpeg makes the scaled copies once, in $LFR_BENCH_DIR,
# default /tmp/lfr-bench).
#
#   bench/live.sh [build/lfr]
#
# For each size, with a watchlist of the four stills and $LFR_BENCH_DISTRACTORS
# (default 0) LFW distractors, two runs of `lfr run`:
#   - as fast as possible: frames processed per second, and CPU per frame for
#     decode / detect / track / embed / search (the worker thread's CPU time);
#   - real time (--realtime, the file paced at 25 fps like a camera, looped
#     for $LFR_BENCH_SECONDS, default 60): frames dropped, and the latency
#     from a frame's arrival to its alert being recorded (p50, p99), at
#     threshold $LFR_BENCH_THRESHOLD (default 0.5, so that each pass of the
#     clip raises a few alerts to time).
# The peer is the stream itself: "realtime factor" = processed fps / 25.
# Prints a table and writes $LFR_BENCH_DIR/live.json.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lfr="$(cd "$(dirname "${1:-$repo/build/lfr}")" && pwd)/$(basename "${1:-$repo/build/lfr}")"
data="${LFR_DATA:-$repo/../shared/data}"
models="$(cd "${LFR_MODELS:-$repo/models}" && pwd)"
out="${LFR_BENCH_DIR:-/tmp/lfr-bench}"
clip="$data/video/short_hamilton_clip.mp4"
mkdir -p "$out"
for h in 720 1080; do
    [[ -f "$out/hamilton_${h}p25.mp4" ]] ||
        ffmpeg -loglevel error -y -i "$clip" -vf "scale=-2:$h,fps=25" -c:v libx264 -preset fast \
            -crf 18 -an "$out/hamilton_${h}p25.mp4"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_PASSWORD="passphrase-1" \
    LFR_NEW_PASSWORD="passphrase-1"
"$lfr" init >/dev/null
"$lfr" user add admin --role administrator >/dev/null
"$lfr" user add op --role operator --user admin >/dev/null
"$lfr" user add ao --role authorising_officer --user admin >/dev/null
{
    printf 'reference\tcategory\treason\texpires\tprovenance\tcaptured\timage\n'
    for s in obama biden lin-manuel-miranda alex-lacamoire; do
        f="$data/stills/$s.jpg"
        [[ -f "$f" ]] || f="$data/stills/$s.png"
        printf '%s\twanted_by_courts\tbench\t2030-01-01\tother\t\t%s\n' "$s" "$f"
    done
    n=0
    for d in "$data"/lfw/*/; do
        ((n < ${LFR_BENCH_DISTRACTORS:-0})) || break
        n=$((n + 1))
        p="$(basename "$d")"
        printf 'D%05d\tsuspect\tbench\t2030-01-01\tother\t\t%s\n' "$n" "$d${p}_0001.jpg"
    done
} >"$work/watchlist.tsv"
"$lfr" subject import "$work/watchlist.tsv" --user op >/dev/null 2>&1 || true

start="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"
end="$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ)"
run_one() { # size mode -> stats json
    local h="$1" mode="$2" dep
    dep="$("$lfr" deployment create --user op --purpose bench --justification bench \
        --legal-basis bench --location bench --lat 0 --lon 0 --installation temporary \
        --start "$start" --end "$end" --threshold "${LFR_BENCH_THRESHOLD:-0.5}" \
        --camera "cam=$out/hamilton_${h}p25.mp4" |
        sed -n 's/^created deployment \([0-9]*\).*/\1/p')"
    "$lfr" deployment authorise "$dep" --user ao >/dev/null
    local extra=()
    [[ "$mode" == realtime ]] && extra=(--realtime --loop --duration "${LFR_BENCH_SECONDS:-60}")
    "$lfr" run --deployment "$dep" --user op --stop --stats "$work/${h}_$mode.json" \
        "${extra[@]}" 2>"$work/${h}_$mode.log"
}
for h in 720 1080; do
    run_one "$h" fast
    run_one "$h" realtime
done

python3 - "$work" "$out" <<'PY'
import json, os, sys
work, out = sys.argv[1:3]
res = {}
print(f"{'':>6} {'fps':>7} {'x25':>6} {'decode':>7} {'detect':>7} {'track':>6} {'embed':>6} "
      f"{'search':>7} | {'dropped':>11} {'alerts':>6} {'p50 ms':>7} {'p99 ms':>7}")
for h in (720, 1080):
    f = json.load(open(os.path.join(work, f"{h}_fast.json")))["cameras"][0]
    r = json.load(open(os.path.join(work, f"{h}_realtime.json")))["cameras"][0]
    c = f["cpu_ms_per_frame"]
    drop = f"{r['dropped']}/{r['frames'] + r['dropped']}"
    print(f"{h:>5}p {f['fps']:7.1f} {f['fps'] / 25:6.2f} {c['decode']:7.2f} {c['detect']:7.2f} "
          f"{c['track']:6.2f} {c['embed']:6.2f} {c['search']:7.3f} | {drop:>11} "
          f"{r['alerts']:6d} {r['latency_ms']['p50']:7.0f} {r['latency_ms']['p99']:7.0f}")
    res[f"{h}p"] = {"fast": f, "realtime": r}
json.dump(res, open(os.path.join(out, "live.json"), "w"), indent=1)
print("CPU per frame in ms (worker thread); fps and x25 as fast as possible; dropped, alerts and"
      " latency in real time (25 fps)")
PY
