#!/usr/bin/env bash
# ab-bench.sh: A/B benchmark two git refs of parbench on this machine and gate on regressions.
#
# Builds BASE_REF and HEAD_REF (each in a temporary git worktree, Release, tests off), runs their
# bench_parallel interleaved A B A B ... for N rounds (one JSON per run), merges each side's rounds into one
# JSON whose repetitions are the rounds (tools/parbench-merge) and compares them (tools/parbench-compare).
# Interleaving spreads slow drifts of the machine (thermal state, noisy neighbours) over both sides.
#
# Exit status: 0 no regression, 1 regression (from parbench-compare), 2 usage, build, run or input error,
# 3 incomplete (fewer benchmarks compared than BASE ran: errored or missing in HEAD, or nothing compared),
# 70 internal error of a tool.
set -euo pipefail

TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=ab-bench.sh

usage() {
    cat <<EOF
usage: $PROG BASE_REF HEAD_REF [options]

Builds both refs, runs bench_parallel A B A B ... and compares the sides with parbench-compare.

options:
  --rounds N           rounds, each running BASE then HEAD once (default 9; compare warns under 9)
  --out DIR            output directory (default: ab-out); gets rounds/, base.json, head.json,
                       compare.md, report/ and ab-info.txt
  --profile NAME       bench_parallel --parbench_profile (default: quick)
  --bench-flags 'F'    extra bench_parallel flags for both sides, e.g. '--benchmark_filter=^count/'
  --base-flags 'F'     extra flags for the BASE side only
  --head-flags 'F'     extra flags for the HEAD side only, e.g. '--parbench_test_slowdown=count:0.10'
                       (flag strings are split on whitespace; no shell quoting inside them)
  --base-bin PATH      use this bench_parallel for BASE instead of building BASE_REF
  --head-bin PATH      use this bench_parallel for HEAD instead of building HEAD_REF
  --jobs N             build parallelism (default: number of CPUs)
  --metric M           forwarded to parbench-compare: real_time (default), speedup, efficiency
  --alpha A            forwarded to parbench-compare (default 0.05)
  --threshold T        forwarded to parbench-compare (default 0.10)
  --strict             forwarded to parbench-compare: errored/missing benchmarks in HEAD exit 1, not 3
  --allow-incomplete   forwarded to parbench-compare: errored/missing benchmarks in HEAD exit 0, not 3
  --paired             after building, run the paired sequential gate (tools/parbench-gate) instead of
                       rounds + parbench-compare; --rounds, --metric and --no-report do not apply, --alpha,
                       --threshold, --strict and --allow-incomplete go to parbench-gate; output in --out
                       (gate.md, verdicts.json, runs.jsonl)
  --gate-flags 'F'     more parbench-gate flags with --paired, e.g. '--looks 6,9,12 --max-minutes 30'
  --no-report          do not run parbench-report on the HEAD side
  --keep               keep the temporary worktrees and builds (their path is printed)
  -h, --help           this text

exit status: 0 no regression, 1 regression, 2 usage, build, run or input error,
             3 incomplete (benchmarks errored or missing in HEAD, or nothing compared), 70 internal error
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

ROUNDS=9 OUT=ab-out PROFILE=quick JOBS=$(nproc 2>/dev/null || echo 2)
BENCH_FLAGS="" BASE_FLAGS="" HEAD_FLAGS="" BASE_BIN="" HEAD_BIN=""
COMPARE_ARGS=() REPORT=1 KEEP=0 POSITIONAL=() PAIRED=0 GATE_FLAGS=""

# Accepts both --opt=value and --opt value.
while (($#)); do
    opt=$1 val="" has_eq=0
    if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} has_eq=1; fi
    case $opt in
        -h|--help) usage; exit 0 ;;
        --rounds|--out|--profile|--bench-flags|--base-flags|--head-flags|--base-bin|--head-bin|--jobs|\
        --metric|--alpha|--threshold|--gate-flags)
            if ((has_eq)); then shift; else [[ $# -ge 2 ]] || die "$opt needs a value"; val=$2; shift 2; fi
            case $opt in
                --rounds) ROUNDS=$val ;; --out) OUT=$val ;; --profile) PROFILE=$val ;;
                --bench-flags) BENCH_FLAGS=$val ;; --base-flags) BASE_FLAGS=$val ;;
                --head-flags) HEAD_FLAGS=$val ;; --base-bin) BASE_BIN=$val ;; --head-bin) HEAD_BIN=$val ;;
                --jobs) JOBS=$val ;; --gate-flags) GATE_FLAGS=$val ;; *) COMPARE_ARGS+=("$opt=$val") ;;
            esac ;;
        --strict|--allow-incomplete) COMPARE_ARGS+=("$opt"); shift ;;
        --paired) PAIRED=1; shift ;;
        --no-report) REPORT=0; shift ;;
        --keep) KEEP=1; shift ;;
        -*) usage >&2; die "unknown option: $opt" ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
((${#POSITIONAL[@]} == 2)) || { usage >&2; die "need exactly two refs: BASE_REF HEAD_REF"; }
BASE_REF=${POSITIONAL[0]} HEAD_REF=${POSITIONAL[1]}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$ROUNDS'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, got '$JOBS'"

read -r -a BENCH_ARR <<<"$BENCH_FLAGS"
read -r -a BASE_ARR <<<"$BASE_FLAGS"
read -r -a HEAD_ARR <<<"$HEAD_FLAGS"

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

# run SIDE ROUND BIN FLAGS... : one bench_parallel run writing rounds/SIDE-RR.json
run_side() {
    local side=$1 round=$2 bin=$3; shift 3
    local json log rc=0
    json=$(printf '%s/rounds/%s-%02d.json' "$OUT" "$side" "$round")
    log=${json%.json}.log
    "$bin" --parbench_profile="$PROFILE" --benchmark_format=json --benchmark_out="$json" \
        --benchmark_out_format=json "${BENCH_ARR[@]}" "$@" >"$log" 2>&1 || rc=$?
    if [[ ! -s $json ]]; then
        tail -n 20 "$log" >&2
        die "$side round $round: $bin exited with status $rc and wrote no JSON (log: $log)"
    fi
    if ((rc != 0)); then
        note "$side round $round: bench_parallel exited with status $rc (errored runs are listed by parbench-compare)"
    fi
    ROUND_FILES+=("$json")
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

if ((PAIRED)); then
    read -r -a GATE_ARR <<<"$GATE_FLAGS"
    mkdir -p "$OUT"
    status=0
    "$TOOLS/parbench-gate" --base-bin "$BASE_BIN" --head-bin "$HEAD_BIN" --profile "$PROFILE" \
        --bench-flags="$BENCH_FLAGS" --base-flags="$BASE_FLAGS" --head-flags="$HEAD_FLAGS" --out "$OUT" \
        --repro "tools/ab-bench.sh $BASE_SHA $HEAD_SHA --paired --bench-flags=--benchmark_filter={filter}" \
        "${COMPARE_ARGS[@]}" "${GATE_ARR[@]}" || status=$?
    exit "$status"
fi

mkdir -p "$OUT/rounds"
rm -f "$OUT"/rounds/base-*.json "$OUT"/rounds/head-*.json
{
    echo "base_ref=$BASE_REF"; echo "base_sha=$BASE_SHA"; echo "head_ref=$HEAD_REF"; echo "head_sha=$HEAD_SHA"
    echo "rounds=$ROUNDS"; echo "profile=$PROFILE"; echo "bench_flags=$BENCH_FLAGS"
    echo "base_flags=$BASE_FLAGS"; echo "head_flags=$HEAD_FLAGS"; echo "host=$(hostname)"
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$OUT/ab-info.txt"

BASE_ROUNDS=() HEAD_ROUNDS=()
for ((round = 1; round <= ROUNDS; round++)); do
    note "round $round/$ROUNDS"
    ROUND_FILES=(); run_side base "$round" "$BASE_BIN" "${BASE_ARR[@]}"; BASE_ROUNDS+=("${ROUND_FILES[@]}")
    ROUND_FILES=(); run_side head "$round" "$HEAD_BIN" "${HEAD_ARR[@]}"; HEAD_ROUNDS+=("${ROUND_FILES[@]}")
done

"$TOOLS/parbench-merge" --out "$OUT/base.json" "${BASE_ROUNDS[@]}" || die "merging the BASE rounds failed"
"$TOOLS/parbench-merge" --out "$OUT/head.json" "${HEAD_ROUNDS[@]}" || die "merging the HEAD rounds failed"

status=0
"$TOOLS/parbench-compare" "${COMPARE_ARGS[@]}" --out "$OUT/compare.md" "$OUT/base.json" "$OUT/head.json" \
    || status=$?

if ((REPORT)); then
    "$TOOLS/parbench-report" --out "$OUT/report/report.md" "$OUT/head.json" \
        || note "parbench-report failed on $OUT/head.json (the comparison stands)"
fi
case $status in
    0) note "no regression ($OUT/compare.md)" ;;
    1) note "REGRESSION: see $OUT/compare.md" ;;
    3) note "INCOMPLETE: fewer benchmarks compared than BASE ran (errored or missing in HEAD): see $OUT/compare.md" ;;
    70) note "parbench-compare failed with an internal error (status 70)" ;;
    *) note "parbench-compare could not compare (status $status)"; status=2 ;;
esac
exit "$status"
