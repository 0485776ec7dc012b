#!/bin/sh
# mpi.cluster.*: bench_parallel across the hosts of tools/mpi-cluster.sh (network namespaces; docs/mpi.md).
# Usage: cluster.sh CASE BENCH_PARALLEL PING_PONG_PEER
#   hosts2, hosts4  the mpi strategy and overhead/mpi/ across 2 and 4 hosts, one rank each: totals checked by
#                   every run, every benchmark named, no errors, the JSON context saying how many hosts; on 2
#                   hosts also the ping-pong peer, and the named error where no one-sided transport is allowed
#   link_down       host1's link goes down mid-run      kill_host  every process on host1 is killed mid-run
#   stop_rank       rank 1 (on host1) is stopped with SIGSTOP mid-run
# A fault must end the job within 30 s, non-zero, with its named error, and every host must be empty by itself
# (before the cluster's teardown) within 10 s more. Every case then checks, outside the cluster, that no
# namespace, link or process of it is left. Skips (77) where the cluster cannot be made (not root, no ip).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/../../tools/mpi-cluster.sh
flags="--allow-run-as-root --oversubscribe --bind-to none"

if [ "${1:-}" = --inside ]; then
  shift
  case=$1 bench=$2 peer=$3
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  # shellcheck disable=SC2086  # the flags are words
  run() { mpirun $flags --hostfile "$PARBENCH_CLUSTER_HOSTFILE" -np "$@"; }
  check_json() {  # FILE NAME... : every name ran, nothing errored, the context says HOSTS hosts
    /usr/bin/python3 - "$@" <<'EOF' || exit 1
import json, sys
data = json.load(open(sys.argv[2]))
hosts, names = sys.argv[1], sys.argv[3:]
ran = [b["name"] for b in data["benchmarks"]]
bad = [b["name"] + ": " + b["error_message"] for b in data["benchmarks"] if b.get("error_occurred")]
missing = [n for n in names if n not in ran]
transport = data["context"].get("mpi_transport", "")
if bad or missing or not transport.endswith("; " + hosts + " hosts"):
    sys.exit(f"FAIL: errors {bad}, missing {missing}, mpi_transport '{transport}' (expected {hosts} hosts)")
print(f"ok: {len(ran)} benchmarks, none errored; mpi_transport: {transport}")
EOF
  }
  # The MPI processes in a namespace (this script and its helpers on host0 are not).
  mpi_processes() { ip netns pids "$1" | xargs -r ps -o pid=,stat=,comm= -p | grep -E ' (bench_parallel|orted|mpirun)$'; }
  # A loaded machine can stretch one run across 4 hosts well past the default deadline (60 s): 300 s here.
  common="--benchmark_min_time=0.01 --parbench_profile=quick --benchmark_format=json --benchmark_out_format=json
    --parbench_worker_deadline=300"
  case $case in
    hosts2)
      # shellcheck disable=SC2086
      run 2 "$bench" $common --benchmark_out="$out/r.json" --parbench_workers=2 \
        '--benchmark_filter=^(count|locked_counter[.](coarse|sharded)|sleep_tasks)/mpi/workers:2/n:(1|1024)/|^overhead/mpi/(ping_pong/bytes:8|barrier|allreduce|dispatch|window)/' \
        >/dev/null || { echo "FAIL: bench_parallel across 2 hosts exited $?"; exit 1; }
      check_json 2 "$out/r.json" count/mpi/workers:2/n:1024/real_time \
        locked_counter.coarse/mpi/workers:2/n:1024/real_time locked_counter.sharded/mpi/workers:2/n:1024/real_time \
        sleep_tasks/mpi/workers:2/n:1/real_time overhead/mpi/ping_pong/bytes:8/manual_time \
        overhead/mpi/barrier/workers:2/manual_time overhead/mpi/allreduce/workers:2/manual_time \
        overhead/mpi/dispatch/workers:2/real_time overhead/mpi/window/workers:2/real_time
      said=$(run 2 "$peer" 8 100) || { echo "FAIL: the ping-pong peer exited $?"; exit 1; }
      echo "$said" | grep -q '^8 bytes: [0-9.]* us per round trip' || { echo "FAIL: peer said '$said'"; exit 1; }
      echo "ok: peer: $said"
      # Without a one-sided component between the hosts the window cannot be made: a named error, every rank ends.
      if run 2 --mca osc sm,rdma "$bench" --parbench_profile=quick --parbench_workers=2 \
        '--benchmark_filter=^count/mpi/workers:2/n:1/' >"$out/log" 2>&1; then
        echo "FAIL: the run without osc/pt2pt exited 0"; cat "$out/log"; exit 1
      fi
      grep -q 'MPI_Win_allocate failed .*mpirun --mca osc sm,pt2pt' "$out/log" ||
        { echo "FAIL: no named error without osc/pt2pt"; cat "$out/log"; exit 1; }
      echo "ok: without osc/pt2pt: $(grep -m1 'MPI_Win_allocate failed' "$out/log")"
      ;;
    hosts4)
      # shellcheck disable=SC2086
      run 4 "$bench" $common --benchmark_out="$out/r.json" --parbench_workers=4 \
        '--benchmark_filter=^(count|locked_counter[.]coarse)/mpi/workers:4/n:1024/|^overhead/mpi/(barrier|allreduce|dispatch|window)/workers:4/' \
        >/dev/null || { echo "FAIL: bench_parallel across 4 hosts exited $?"; exit 1; }
      check_json 4 "$out/r.json" count/mpi/workers:4/n:1024/real_time \
        locked_counter.coarse/mpi/workers:4/n:1024/real_time overhead/mpi/barrier/workers:4/manual_time \
        overhead/mpi/allreduce/workers:4/manual_time overhead/mpi/dispatch/workers:4/real_time \
        overhead/mpi/window/workers:4/real_time
      ;;
    link_down | kill_host | stop_rank)
      ns1=$(echo "$PARBENCH_CLUSTER_NETNS" | cut -d' ' -f2)
      # A run that would go on for a minute; 5 s is the deadline of a run of the mpi strategy here.
      run 2 "$bench" --parbench_worker_deadline=5 --parbench_workers=2 \
        '--benchmark_filter=^sleep_tasks/mpi/workers:2/n:8/' --benchmark_min_time=60 >"$out/log" 2>&1 &
      job=$!
      i=0
      until mpi_processes "$ns1" | grep -q bench_parallel || [ $i -ge 100 ]; do
        sleep 0.1
        i=$((i + 1))
      done
      [ $i -lt 100 ] || { echo "FAIL: no rank started on host1"; cat "$out/log"; exit 1; }
      sleep 1
      case $case in
        link_down) ip -n "$PARBENCH_CLUSTER_SWITCH" link set host1 down ;;
        kill_host) ip netns pids "$ns1" | xargs kill -KILL ;;
        stop_rank) ip netns pids "$ns1" | xargs -r ps -o pid=,comm= -p | awk '$2 == "bench_parallel" {print $1}' |
          xargs kill -STOP ;;
      esac
      start=$(date +%s)
      i=0
      while kill -0 $job 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
      if kill -0 $job 2>/dev/null; then echo "FAIL: the job still runs 30 s after the fault"; cat "$out/log"; exit 1; fi
      wait $job
      status=$?
      ended=$(($(date +%s) - start))
      cat "$out/log"
      case $case in
        link_down) named='lost communication with a remote daemon' ;;
        kill_host) named='ORTE has lost communication|ORTE daemon has unexpectedly failed|noticed that process rank 1' ;;
        stop_rank) named='mpi: no answer from rank 1 of workers:2 within [0-9.]+ s' ;;
      esac
      fail=0
      [ $status -ne 0 ] || { echo "FAIL: exit status 0"; fail=1; }
      grep -Eq "$named" "$out/log" || { echo "FAIL: no error matching '$named'"; fail=1; }
      # Every host empties by itself: the daemons and ranks end, not just the cluster's teardown.
      for ns in $PARBENCH_CLUSTER_NETNS; do
        i=0
        while [ -n "$(mpi_processes "$ns")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        left=$(mpi_processes "$ns")
        [ -z "$left" ] || { echo "FAIL: left running in $ns: $left"; fail=1; }
      done
      echo "fault $case: the job ended ${ended} s after it, exit status $status"
      exit $fail
      ;;
    *) echo "unknown case $case"; exit 2 ;;
  esac
  exit 0
fi

[ $# -eq 3 ] || { echo "usage: $0 hosts2|hosts4|link_down|kill_host|stop_rank BENCH_PARALLEL PEER"; exit 2; }
case=$1
hosts=2
[ "$case" = hosts4 ] && hosts=4
links_before=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sort)
"$cluster" -n "$hosts" /bin/sh "$here/cluster.sh" --inside "$@" &
cluster_pid=$!
wait $cluster_pid
status=$?
[ $status -eq 77 ] && exit 77
# Nothing of the cluster is left: its namespaces, a link in this namespace, a process that carries its id.
id=pbc$cluster_pid
left_ns=$(ip netns list | grep "^$id-")
left_links=$(ip -o link show | awk -F': ' '{print $2}' | sort | grep -vxF "$links_before")
left_pids=$(grep -lsxz "PARBENCH_CLUSTER_ID=$id" /proc/[0-9]*/environ)
echo "left behind: namespaces [$left_ns] links [$left_links] processes [$left_pids]"
if [ -n "$left_ns$left_links$left_pids" ]; then exit 1; fi
exit $status
