#!/usr/bin/env bash
# Style and safety checks for the C sources.
#
#   1. Banned functions in src/ tools/ bench/ tests/ (*.c, *.h):
#      sprintf vsprintf strcpy strcat strtok atoi atol gets
#      (snprintf, vsnprintf, strncpy, strtok_r, fgets, strtol... are fine).
#   2. No exit()/abort() (nor _exit, _Exit, quick_exit) in library code (src/):
#      report errors to the caller instead.
#   3. Layering: the audit log (src/audit) includes nothing of the library
#      but src/util and itself, so the store builds on it and never the
#      other way round.
#   4. clang-format --dry-run on src/ include/ tools/ bench/ tests/ when
#      clang-format is installed: a warning count only, an error with
#      LFR_STRICT_FORMAT=1 (formatting is enforced gradually).
#
# Comments and string literals are ignored by checks 1 and 2. A line that
# really needs an exception can carry the marker `style:allow` in a comment.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# C sources under the given folders (those that exist), NUL-separated.
c_files() {
    local dirs=() d
    for d in "$@"; do
        [[ -d "$d" ]] && dirs+=("$d")
    done
    ((${#dirs[@]} > 0)) || return 0
    find "${dirs[@]}" \( -name node_modules -o -name 'build*' \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z
}

# scan REGEX FILE...: print file:line: text for code (not comments, not
# strings) matching the extended regex.
scan() {
    local re="$1"
    shift
    (($# > 0)) || return 0
    RE="$re" awk '
    BEGIN { re = ENVIRON["RE"] }
    FNR == 1 { incomment = 0 }
    {
        line = $0; out = ""; n = length(line); i = 1
        while (i <= n) {
            c = substr(line, i, 1); c2 = substr(line, i, 2)
            if (incomment) {
                if (c2 == "*/") { incomment = 0; i += 2; out = out " " } else i++
                continue
            }
            if (c2 == "/*") { incomment = 1; i += 2; continue }
            if (c2 == "//") break
            if (c == "\"" || c == "\047") {
                q = c; i++
                while (i <= n) {
                    c = substr(line, i, 1)
                    if (c == "\\") { i += 2; continue }
                    if (c == q) break
                    i++
                }
                out = out q q; i++
                continue
            }
            out = out c; i++
        }
        if (out ~ re && $0 !~ /style:allow/)
            printf "%s:%d: %s\n", FILENAME, FNR, $0
    }' "$@"
}

status=0

mapfile -d '' all_c < <(c_files src tools bench tests)
mapfile -d '' lib_c < <(c_files src)

# Identifier boundary: start of line or a character that cannot be part of an
# identifier, so snprintf/vsnprintf/strncpy/fgets/strtok_r do not match.
b='(^|[^A-Za-z0-9_])'
banned="${b}(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*[(]"
hits="$(scan "$banned" "${all_c[@]}")"
if [[ -n "$hits" ]]; then
    echo "check-style: banned functions (use snprintf, memcpy with a size, strtol...):" >&2
    printf '%s\n' "$hits" >&2
    status=1
fi

terminate="${b}(exit|_exit|_Exit|quick_exit|abort)[[:space:]]*[(]"
hits="$(scan "$terminate" "${lib_c[@]}")"
if [[ -n "$hits" ]]; then
    echo "check-style: exit()/abort() in library code (src/); return an error instead:" >&2
    printf '%s\n' "$hits" >&2
    status=1
fi

mapfile -d '' log_c < <(c_files src/audit)
if ((${#log_c[@]} > 0)); then
    hits="$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "${log_c[@]}" |
        grep -vE '"(audit|util)/[^"]*"|"lfr/[^"]*"' || true)"
    if [[ -n "$hits" ]]; then
        echo "check-style: src/audit may include only audit/, util/ and lfr/ headers:" >&2
        printf '%s\n' "$hits" >&2
        status=1
    fi
fi

if command -v clang-format >/dev/null 2>&1; then
    mapfile -d '' fmt_c < <(c_files src include tools bench tests)
    unformatted=()
    for f in "${fmt_c[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            unformatted+=("$f")
        fi
    done
    if ((${#unformatted[@]} > 0)); then
        if [[ "${LFR_STRICT_FORMAT:-0}" == 1 ]]; then
            echo "check-style: ${#unformatted[@]} file(s) not clang-formatted:" >&2
            clang-format --dry-run --Werror "${unformatted[@]}" || true
            status=1
        else
            echo "check-style: warning: ${#unformatted[@]} of ${#fmt_c[@]} file(s) not" \
                "clang-formatted (clang-format -i FILE; LFR_STRICT_FORMAT=1 makes this an error):" >&2
            printf '  %s\n' "${unformatted[@]}" >&2
        fi
    fi
else
    echo "check-style: clang-format not installed; formatting not checked" >&2
fi

if ((status == 0)); then
    echo "check-style: ok"
fi
exit "$status"
