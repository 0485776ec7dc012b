#!/bin/sh
# A cluster of HOSTS "hosts" on this machine, for running MPI across network stacks (docs/mpi.md): each host is
# a network namespace with its own hostname (a UTS namespace), named host0..host{HOSTS-1}, at 10.77.0.{1+i}/24 on
# interface pbc0, a veth pair to a bridge that lives in a namespace of its own, so nothing is added to this
# machine's own network. COMMAND runs on host0 with Open MPI set up to launch across the hosts: plm_rsh_agent is
# a script that enters a host's namespaces where ssh would log in, and TCP (btl and oob) is restricted to pbc0.
# Everything made is torn down when COMMAND ends, or on an error, SIGINT, SIGTERM or SIGHUP, and the script then
# checks that no namespace and no process of the cluster is left. Each host gets its own share of this machine's
# CPUs, as separate machines have their own cores: with HOSTS up to the CPUs, host i gets every CPU whose index in
# the allowed list is i modulo HOSTS; with more hosts, host i gets CPU i modulo the CPUs (hosts then share). Every
# process on a host (its daemon and ranks; on host0 COMMAND) runs under taskset on them; -a leaves every host all
# of the CPUs. Needs root and iproute2 (ip), nsenter, unshare and taskset (util-linux).
#
# Usage: tools/mpi-cluster.sh [-n HOSTS] [-s SLOTS] [-a] COMMAND [ARG...]
#   -n HOSTS  hosts, 1 to 16 (default 2)    -s SLOTS  slots per host in the hostfile (default 1)
#   -a        every host may run on all of this machine's CPUs (default: each host its own share)
# COMMAND sees, besides Open MPI's settings (OMPI_MCA_*):
#   PARBENCH_CLUSTER_HOSTFILE  the hostfile (host0 slots=SLOTS ...), for mpirun --hostfile
#   PARBENCH_CLUSTER_HOSTS     the host names;  PARBENCH_CLUSTER_NETNS  their network namespaces (ip -n, ip netns)
#   PARBENCH_CLUSTER_SWITCH    the bridge's namespace, where host i's end of its link is the interface host<i>
#   PARBENCH_CLUSTER_ID        set in every process of the cluster (mpirun, the daemons, the ranks)
#   PARBENCH_CLUSTER_CPUS      each host's CPUs (taskset's list form), one word a host, in host order
# Exit status: COMMAND's; 77 (with the reason) where the cluster cannot be made (not root, no ip, no right to
# make namespaces); 1 when something of the cluster was left behind; 128 + the signal's number when interrupted.
set -u

hosts=2
slots=1
all_cpus=0
while getopts n:s:a opt; do
  case $opt in
    n) hosts=$OPTARG ;;
    s) slots=$OPTARG ;;
    a) all_cpus=1 ;;
    *) echo "usage: $0 [-n HOSTS] [-s SLOTS] [-a] COMMAND [ARG...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
case $hosts in '' | *[!0-9]*) hosts=0 ;; esac
case $slots in '' | *[!0-9]*) slots=0 ;; esac
if [ $# -eq 0 ] || [ "$hosts" -lt 1 ] || [ "$hosts" -gt 16 ] || [ "$slots" -lt 1 ]; then
  echo "usage: $0 [-n HOSTS (1-16)] [-s SLOTS (1 or more)] [-a] COMMAND [ARG...]" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then echo "mpi-cluster: skipped: network namespaces need root"; exit 77; fi
for tool in ip nsenter unshare taskset mpirun; do
  if ! command -v $tool >/dev/null 2>&1; then echo "mpi-cluster: skipped: no $tool on PATH"; exit 77; fi
done

id=pbc$$
dir=/run/parbench-cluster/$id
switch=$id-sw
names=""
netns=""
i=0
while [ $i -lt "$hosts" ]; do
  names="$names host$i"
  netns="$netns $id-host$i"
  i=$((i + 1))
done
names=${names# }
netns=${netns# }

# The CPUs this script may use (/proc's list form, e.g. 0-3,8), one a word.
allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status | tr ',' ' ' | while read -r ranges; do
  for r in $ranges; do seq "${r%-*}" "${r#*-}"; done
done | tr '\n' ' ')
ncpus=$(echo "$allowed" | wc -w)
if [ "$ncpus" -lt 1 ]; then echo "mpi-cluster: cannot read the CPUs this process may use (/proc/self/status)" >&2; exit 1; fi
# Host i's CPUs, comma-separated.
host_cpus() {
  k=0
  picked=""
  for c in $allowed; do
    if [ $all_cpus -eq 1 ] || { [ "$hosts" -le "$ncpus" ] && [ $((k % hosts)) -eq "$1" ]; } ||
      { [ "$hosts" -gt "$ncpus" ] && [ $k -eq $(($1 % ncpus)) ]; }; then picked="$picked,$c"; fi
    k=$((k + 1))
  done
  echo "${picked#,}"
}
cpus=""
i=0
while [ $i -lt "$hosts" ]; do
  cpus="$cpus $(host_cpus $i)"
  i=$((i + 1))
done
cpus=${cpus# }

# The processes of this cluster: every one in its namespaces, and any outside that carries its id.
cluster_pids() {
  for ns in $netns; do ip netns pids "$ns" 2>/dev/null; done
  grep -lsxz "PARBENCH_CLUSTER_ID=$id" /proc/[0-9]*/environ | sed 's|^/proc/||; s|/environ$||'
}

teardown() {
  trap - EXIT INT TERM HUP
  # Ask first, then kill what is left.
  for signal in TERM KILL; do
    pids=$(cluster_pids | sort -u)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086  # one pid a word
    kill -$signal $pids 2>/dev/null
    n=0
    while [ $n -lt 20 ] && [ -n "$(cluster_pids)" ]; do sleep 0.1; n=$((n + 1)); done
  done
  for ns in $netns $switch; do ip netns del "$ns" 2>/dev/null; done
  for host in $names; do umount "$dir/$host.uts" 2>/dev/null; done
  rm -rf "$dir"
  rmdir /run/parbench-cluster 2>/dev/null
  left=$(ip netns list | grep -E "^$id-"; cluster_pids | sort -u)
  if [ -n "$left" ]; then
    echo "mpi-cluster: left behind (namespaces, pids): $(echo "$left" | tr '\n' ' ')" >&2
    return 1
  fi
  return 0
}
on_signal() {  # NAME NUMBER
  echo "mpi-cluster: interrupted by SIG$1; tearing the cluster down" >&2
  teardown
  exit $((128 + $2))
}
on_exit() {
  status=$1
  teardown || status=1
  exit "$status"
}
trap 'on_exit $?' EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

fail() { echo "mpi-cluster: $*" >&2; exit 1; }
# Runs a step of building the cluster; a failed step ends the script (and tears down what was made).
step() { "$@" || fail "failed: $*"; }

mkdir -p "$dir/tmp" || fail "cannot make $dir"

# Root in a container without CAP_SYS_ADMIN cannot make namespaces: a skip, not a failure.
if ! err=$(ip netns add "$switch" 2>&1); then
  echo "mpi-cluster: skipped: cannot add a network namespace here (a container without CAP_SYS_ADMIN?): $err"
  exit 77
fi
step ip -n "$switch" link add br0 type bridge
step ip -n "$switch" link set br0 up
: >"$dir/hostfile"
i=0
for host in $names; do
  ns=$id-$host
  step ip netns add "$ns"
  # IPv4 alone, so that Open MPI never waits on a tentative IPv6 address. A connection with data in flight
  # over a dead link gives up after 5 retransmissions (about 13 s) rather than 15 (over 15 minutes): keepalive
  # covers only idle connections. Both are this namespace's own settings.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.tcp_retries2=5 2>/dev/null
  step ip -n "$switch" link add "$host" type veth peer name pbc0 netns "$ns"
  step ip -n "$switch" link set "$host" master br0
  step ip -n "$switch" link set "$host" up
  step ip -n "$ns" addr add "10.77.0.$((i + 1))/24" dev pbc0
  step ip -n "$ns" link set pbc0 up
  step ip -n "$ns" link set lo up
  step touch "$dir/$host.uts"
  step unshare --uts="$dir/$host.uts" hostname "$host"
  echo "$host slots=$slots" >>"$dir/hostfile"
  echo "$cpus" | cut -d' ' -f$((i + 1)) >"$dir/$host.cpus"
  i=$((i + 1))
done

# ssh's place: Open MPI calls AGENT [OPTIONS] HOST COMMAND..., and the command runs on HOST in its shell.
cat >"$dir/rsh" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case \$1 in -*) shift ;; *) break ;; esac; done
host=\$1
shift
if [ ! -e "$dir/\$host.uts" ]; then echo "mpi-cluster rsh: no host \$host in cluster $id" >&2; exit 255; fi
exec nsenter --net=/run/netns/$id-\$host --uts="$dir/\$host.uts" -- taskset -c "\$(cat "$dir/\$host.cpus")" \\
  /bin/sh -c "\$*"
EOF
chmod +x "$dir/rsh"

export PARBENCH_CLUSTER_HOSTFILE="$dir/hostfile" PARBENCH_CLUSTER_HOSTS="$names" PARBENCH_CLUSTER_NETNS="$netns"
export PARBENCH_CLUSTER_SWITCH="$switch" PARBENCH_CLUSTER_CPUS="$cpus"
export OMPI_MCA_plm_rsh_agent="$dir/rsh" OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_btl_tcp_if_include=pbc0 OMPI_MCA_oob_tcp_if_include=pbc0
# One-sided MPI (the mpi strategy's window) across hosts over TCP needs osc/pt2pt, which Debian's
# /etc/openmpi/openmpi-mca-params.conf turns off (osc = ^ucx,pt2pt); sm serves ranks on one host.
export OMPI_MCA_osc=sm,pt2pt
# Session directories inside the cluster's folder, so that nothing is left in /tmp after a fault.
export OMPI_MCA_orte_tmpdir_base="$dir/tmp"
# A daemon whose link is gone is noticed by TCP keepalive on the daemons' (oob) connections: after 2 s idle, 3
# unanswered probes 1 s apart, so about 5 s (Open MPI's defaults are 300 s, 20 s and 9: over 8 minutes).
export OMPI_MCA_oob_tcp_keepalive_time=2 OMPI_MCA_oob_tcp_keepalive_intvl=1 OMPI_MCA_oob_tcp_keepalive_probes=3

# In the background, so that a signal to this script tears the cluster down at once. Only COMMAND's processes
# carry the id, never this script's own.
PARBENCH_CLUSTER_ID=$id nsenter --net="/run/netns/$id-host0" --uts="$dir/host0.uts" -- \
  taskset -c "$(cat "$dir/host0.cpus")" "$@" &
wait $!
