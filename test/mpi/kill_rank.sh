#!/bin/sh
# A rank of bench_parallel killed with SIGKILL mid-run: the whole job must end within 10 s, non-zero, with mpirun
# naming the rank, and leave no rank behind. Usage: kill_rank.sh BENCH_PARALLEL MPIRUN [FLAGS...] NP_FLAG
set -u
bench=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2 "$bench" '--benchmark_filter=^sleep_tasks/mpi/workers:2/n:8/' --benchmark_min_time=60 \
  >"$out" 2>&1 &
mpirun_pid=$!

# The ranks are mpirun's children; rank 1 is the one whose environment says so.
rank_pid() {
  for p in $(pgrep -P "$mpirun_pid"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then echo "$p"; return; fi
  done
}
i=0
while [ -z "$(rank_pid 1)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rank0=$(rank_pid 0)
rank1=$(rank_pid 1)
if [ -z "$rank1" ] || [ -z "$rank0" ]; then
  echo "FAIL: found no ranks under mpirun (pid $mpirun_pid)"; cat "$out"; kill "$mpirun_pid"; exit 1
fi
sleep 2  # well into the benchmark
kill -KILL "$rank1"
killed_at=$(date +%s)
waited=0
while kill -0 "$mpirun_pid" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
if kill -0 "$mpirun_pid" 2>/dev/null; then
  echo "FAIL: the job still runs 10 s after rank 1 was killed"; kill -KILL "$mpirun_pid" "$rank0"; exit 1
fi
wait "$mpirun_pid"
status=$?
cat "$out"
echo "job ended $(($(date +%s) - killed_at)) s after SIGKILL, exit status $status"
fail=0
if [ "$status" -eq 0 ]; then echo "FAIL: exit status 0"; fail=1; fi
if ! grep -q "rank 1" "$out"; then echo "FAIL: the output does not name rank 1"; fail=1; fi
# A zombie (a reparented child not yet reaped) has ended; anything else is still running.
if [ -e "/proc/$rank0" ] && ! grep -q '^State:.*Z' "/proc/$rank0/status" 2>/dev/null; then echo "FAIL: rank 0 (pid $rank0) was left behind"; kill -KILL "$rank0"; fail=1; fi
exit $fail
