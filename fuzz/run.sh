#!/bin/sh
# Builds the fuzz target with clang and runs it: fuzz/run.sh [SECONDS] [libFuzzer flags...]
#   fuzz/run.sh 600            ten minutes; new inputs go to build/fuzz/corpus, finds to build/fuzz/crash-*
#   fuzz/run.sh 0 -runs=20000  a bounded number of inputs instead (what ctest's fuzz.smoke runs)
# Status 77 (skipped) where no clang++ can build a libFuzzer target. PARBENCH_FUZZ_BUILD sets the build folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${PARBENCH_FUZZ_BUILD:-$here/../build/fuzz}
seconds=${1:-60}
[ $# -gt 0 ] && shift

cxx=
for c in ${PARBENCH_FUZZ_CXX:-} clang++-14 clang++; do
  if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done
mkdir -p "$build"
probe="$build/probe.cpp"
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' >"$probe"
if [ -z "$cxx" ] || ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe" -o "$build/probe" >/dev/null 2>&1; then
  echo "SKIP: no clang++ with -fsanitize=fuzzer (apt-get install clang-14 libfuzzer-14-dev)"
  exit 77
fi

cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="$(command -v "$cxx")" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null
mkdir -p "$build/corpus"
cd "$build"  # where libFuzzer writes crash-* files
# -error_exitcode: libFuzzer's own default for a find is 77, which ctest would read as "skipped".
set -- -max_total_time="$seconds" -timeout=10 -error_exitcode=1 "$@" "$build/corpus" "$here/corpus"
[ "$seconds" = 0 ] && shift
exec "$build/parbench_fuzz" "$@"
