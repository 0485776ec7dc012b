#!/usr/bin/env bash
# ab-bench.sh: A/B benchmark two git refs of parbench on this machine and gate on regressions.
#
# Builds BASE_REF and HEAD_REF (each in a temporary git worktree, Release, tests off), then runs the paired
# sequential gate (tools/parbench-gate) between their bench_parallel binaries: rounds of pairs, each group of
# benchmarks in both binaries seconds apart in a random order, so that the machine's drift falls on both sides.
#
# Exit status: parbench-gate's: 0 no regression, 1 regression, 2 usage, build, run or input error,
# 3 incomplete (a benchmark errored or missing in HEAD, or nothing compared), 70 internal error of a tool.
set -euo pipefail

TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=ab-bench.sh

usage() {
    cat <<EOF
usage: $PROG BASE_REF HEAD_REF [options]

Builds both refs and runs the paired sequential gate (tools/parbench-gate) between their bench_parallel.

options:
  --out DIR            output directory (default: ab-out); gets gate.md, verdicts.json and runs.jsonl
  --profile NAME       bench_parallel --parbench_profile (default: quick)
  --bench-flags 'F'    extra bench_parallel flags for both sides, e.g. '--benchmark_filter=^count/'
  --base-flags 'F'     extra flags for the BASE side only
  --head-flags 'F'     extra flags for the HEAD side only, e.g. '--parbench_test_slowdown=count:0.10'
                       (flag strings are split on whitespace; no shell quoting inside them)
  --base-bin PATH      use this bench_parallel for BASE instead of building BASE_REF
  --head-bin PATH      use this bench_parallel for HEAD instead of building HEAD_REF
  --jobs N             build parallelism (default: number of CPUs)
  --alpha A, --threshold T, --strict, --allow-incomplete
                       forwarded to parbench-gate
  --gate-flags 'F'     more parbench-gate flags, e.g. '--looks 6,9,12 --max-minutes 30'
  --paired             accepted for older command lines: the paired gate is the only one
  --keep               keep the temporary worktrees and builds (their path is printed)
  -h, --help           this text

exit status: 0 no regression, 1 regression, 2 usage, build, run or input error,
             3 incomplete (benchmarks errored or missing in HEAD, or nothing compared), 70 internal error
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

OUT=ab-out PROFILE=quick JOBS=$(nproc 2>/dev/null || echo 2)
BENCH_FLAGS="" BASE_FLAGS="" HEAD_FLAGS="" BASE_BIN="" HEAD_BIN=""
GATE_ARGS=() KEEP=0 POSITIONAL=() GATE_FLAGS=""

# Accepts both --opt=value and --opt value.
while (($#)); do
    opt=$1 val="" has_eq=0
    if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} has_eq=1; fi
    case $opt in
        -h|--help) usage; exit 0 ;;
        --out|--profile|--bench-flags|--base-flags|--head-flags|--base-bin|--head-bin|--jobs|\
        --alpha|--threshold|--gate-flags)
            if ((has_eq)); then shift; else [[ $# -ge 2 ]] || die "$opt needs a value"; val=$2; shift 2; fi
            case $opt in
                --out) OUT=$val ;; --profile) PROFILE=$val ;;
                --bench-flags) BENCH_FLAGS=$val ;; --base-flags) BASE_FLAGS=$val ;;
                --head-flags) HEAD_FLAGS=$val ;; --base-bin) BASE_BIN=$val ;; --head-bin) HEAD_BIN=$val ;;
                --jobs) JOBS=$val ;; --gate-flags) GATE_FLAGS=$val ;; *) GATE_ARGS+=("$opt=$val") ;;
            esac ;;
        --strict|--allow-incomplete) GATE_ARGS+=("$opt"); shift ;;
        --paired) shift ;;
        --keep) KEEP=1; shift ;;
        -*) usage >&2; die "unknown option: $opt" ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
((${#POSITIONAL[@]} == 2)) || { usage >&2; die "need exactly two refs: BASE_REF HEAD_REF"; }
BASE_REF=${POSITIONAL[0]} HEAD_REF=${POSITIONAL[1]}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, got '$JOBS'"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parbench-ab.XXXXXX")
WORKTREES=() REPO=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    if ((KEEP)); then note "kept worktrees and builds in $WORK"; return; fi
    for wt in "${WORKTREES[@]}"; do git -C "$REPO" worktree remove --force "$wt" >/dev/null 2>&1 || true; done
    ((${#WORKTREES[@]} == 0)) || git -C "$REPO" worktree prune >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

resolve() {  # ref -> commit sha
    git -C "$REPO" rev-parse --verify --quiet "$1^{commit}" || die "not a commit in $REPO: $1"
}

# build SIDE SHA -> prints the path of the built bench_parallel
build() {
    local side=$1 sha=$2 src="$WORK/$1-src" build="$WORK/$1-build"
    note "building $side ($sha) in $src"
    git -C "$REPO" worktree add --detach --quiet "$src" "$sha" || die "git worktree add failed for $side ($sha)"
    WORKTREES+=("$src")
    if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARBENCH_BUILD_TESTS=OFF \
            >"$WORK/$side-configure.log" 2>&1; then
        tail -n 30 "$WORK/$side-configure.log" >&2; die "cmake configure failed for $side ($sha)"
    fi
    if ! cmake --build "$build" --target bench_parallel -j "$JOBS" >"$WORK/$side-build.log" 2>&1; then
        tail -n 30 "$WORK/$side-build.log" >&2; die "build of bench_parallel failed for $side ($sha)"
    fi
    [[ -x "$build/bench_parallel" ]] || die "no executable $build/bench_parallel after building $side ($sha)"
    BUILT="$build/bench_parallel"
}

# ---------------------------------------------------------------------------------------------- main

if [[ -z $BASE_BIN || -z $HEAD_BIN ]]; then
    REPO=$(git rev-parse --show-toplevel 2>/dev/null) || die "not inside a git repository (needed to build refs)"
fi
BASE_SHA=$BASE_REF HEAD_SHA=$HEAD_REF
[[ -z $REPO ]] || { BASE_SHA=$(resolve "$BASE_REF"); HEAD_SHA=$(resolve "$HEAD_REF"); }

if [[ -z $BASE_BIN ]]; then build base "$BASE_SHA"; BASE_BIN=$BUILT; fi
if [[ -z $HEAD_BIN ]]; then
    if [[ $HEAD_SHA == "$BASE_SHA" && -n $REPO ]]; then HEAD_BIN=$BASE_BIN  # A/A: one build serves both
    else build head "$HEAD_SHA"; HEAD_BIN=$BUILT; fi
fi
for bin in "$BASE_BIN" "$HEAD_BIN"; do [[ -x $bin ]] || die "not an executable: $bin"; done

read -r -a GATE_ARR <<<"$GATE_FLAGS"
mkdir -p "$OUT"
status=0
"$TOOLS/parbench-gate" --base-bin "$BASE_BIN" --head-bin "$HEAD_BIN" --profile "$PROFILE" \
    --bench-flags="$BENCH_FLAGS" --base-flags="$BASE_FLAGS" --head-flags="$HEAD_FLAGS" --out "$OUT" \
    --repro "tools/ab-bench.sh $BASE_SHA $HEAD_SHA --bench-flags=--benchmark_filter={filter}" \
    "${GATE_ARGS[@]}" "${GATE_ARR[@]}" || status=$?
exit "$status"
