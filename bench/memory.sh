#!/usr/bin/env bash
# Memory over a long run: `lfr run --loop --realtime` on the Hamilton clip
# scaled to 720p at 25 fps (made once with ffmpeg in $LFR_BENCH_DIR), for
# DURATION seconds (default 3600), sampling the process's resident memory
# (VmRSS) every 10 s. Prints the RSS after the first minute, at the end,
# the largest, and the change; exits 1 when the end differs from the first
# minute by more than 5 %.
#
#   bench/memory.sh [build/lfr] [DURATION]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lfr="$(cd "$(dirname "${1:-$repo/build/lfr}")" && pwd)/$(basename "${1:-$repo/build/lfr}")"
duration="${2:-3600}"
data="${LFR_DATA:-$repo/../shared/data}"
models="$(cd "${LFR_MODELS:-$repo/models}" && pwd)"
out="${LFR_BENCH_DIR:-/tmp/lfr-bench}"
mkdir -p "$out"
video="$out/hamilton_720p25.mp4"
[[ -f "$video" ]] ||
    ffmpeg -loglevel error -y -i "$data/video/short_hamilton_clip.mp4" \
        -vf "scale=-2:720,fps=25" -c:v libx264 -preset fast -crf 18 -an "$video"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LFR_HOME="$work/home" LFR_MODELS="$models" LFR_PASSWORD="passphrase-1" \
    LFR_NEW_PASSWORD="passphrase-1"
"$lfr" init >/dev/null
"$lfr" user add admin --role administrator >/dev/null
"$lfr" user add op --role operator --user admin >/dev/null
"$lfr" user add ao --role authorising_officer --user admin >/dev/null
for s in obama.jpg lin-manuel-miranda.png; do
    "$lfr" subject add "REF-${s%%.*}" "$data/stills/$s" --category wanted_by_courts \
        --reason memory --expires 2030-01-01 --user op >/dev/null
done
start="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)"
end="$(date -u -d "+$((duration / 3600 + 2)) hours" +%Y-%m-%dT%H:%M:%SZ)"
dep="$("$lfr" deployment create --user op --purpose memory --justification memory \
    --legal-basis test --location lab --lat 0 --lon 0 --installation temporary \
    --start "$start" --end "$end" --threshold 0.6 --camera "cam=$video" |
    sed -n 's/^created deployment \([0-9]*\).*/\1/p')"
"$lfr" deployment authorise "$dep" --user ao >/dev/null

"$lfr" run --deployment "$dep" --user op --loop --realtime --duration "$duration" \
    --stats "$work/stats.json" 2>"$work/run.log" &
pid=$!
: >"$work/rss.tsv"
t0="$(date +%s)"
while kill -0 "$pid" 2>/dev/null; do
    rss="$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    [[ -n "$rss" ]] && printf '%d\t%d\n' "$(($(date +%s) - t0))" "$rss" >>"$work/rss.tsv"
    sleep 10
done
wait "$pid"
cp "$work/rss.tsv" "$out/memory_rss.tsv"
python3 - "$work/rss.tsv" "$work/stats.json" <<'PY'
import json, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
st = json.load(open(sys.argv[2]))["cameras"][0]
first = next((r for t, r in rows if t >= 60), rows[-1][1])
last = rows[-1][1]
peak = max(r for _, r in rows)
change = (last - first) / first * 100
print(f"{rows[-1][0]} s, {st['frames']} frames ({st['dropped']} dropped), {st['faces_seen']} faces seen")
print(f"RSS after 1 min {first / 1024:.1f} MiB, at the end {last / 1024:.1f} MiB, "
      f"peak {peak / 1024:.1f} MiB: {change:+.2f} %")
sys.exit(0 if abs(change) <= 5 else 1)
PY
