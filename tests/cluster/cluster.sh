#!/usr/bin/env bash
# cluster.sh — a small MPI cluster on one machine, made of Linux network namespaces.
#
# Each "node" is a network namespace with a loopback and one veth interface (eth0, address
# 198.18.0.<i+1>/24); the other ends of the veths are joined by a bridge that lives in a
# namespace of its own, so no address or interface is added to the host's namespace.
# Open MPI starts its remote daemons through an rsh agent (written by `up`) that runs the
# daemon's command line in the node's namespace, under `unshare --uts` with the node's own
# hostname, so each node looks like a separate host; every byte between nodes goes over TCP.
# mpirun itself runs in node 0.  The nodes share the host's file system and its cores.
# So that a job whose node is cut off can end, the nodes' TCP gives up on an unanswered
# connection after 2-3 s (net.ipv4.tcp_retries2 = 2; DZ_CLUSTER_TCP_RETRIES2 sets another
# value, 15 is Linux's default) and Open MPI's daemons probe idle connections after 10 s.
#
# Usage (root only; every command but `up` finds the cluster through $DZ_CLUSTER):
#   eval "$(cluster.sh up K)"     make K nodes (2..4); prints `export DZ_CLUSTER=<state dir>`
#   cluster.sh hostfile           print the path of the hostfile (one line per node, with slots)
#   cluster.sh env                print the OMPI_MCA_* settings mpirun needs (as shell exports)
#   cluster.sh mpirun ARGS...     run mpirun in node 0 with those settings and the hostfile
#   cluster.sh exec NODE CMD...   run a command in node NODE (0..K-1), with its hostname
#   cluster.sh link down|up NODE  take node NODE's link to the bridge down or up again
#   cluster.sh pids NODE          print the ids of the processes running in node NODE
#   cluster.sh down               kill every process in the nodes, delete the namespaces and
#                                 the state dir; idempotent (nothing left: nothing done)
#   cluster.sh check              exit 0 when namespaces can be made here, else 77 and why
# Names are unique per cluster (prefix dzc<pid of `up`>); `up` also removes clusters whose
# owner process ($DZ_CLUSTER_OWNER, default the caller) has died without `down`.
set -Eeuo pipefail  # -E: the ERR trap of `up` also fires inside its functions

STATE_ROOT=${TMPDIR:-/tmp}/dzcluster
SUBNET=198.18.0.0/24
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")

die() { echo "cluster.sh: $*" >&2; exit 1; }
# Commands enter a node's network namespace with nsenter, not `ip -n` / `ip netns exec`: those
# also remount /sys inside a private mount namespace, which fails in a chroot (where / is not
# a mount point), and none of the commands here needs that view of /sys.
NETNS=/run/netns
nsip() { local ns=$1; shift; nsenter --net="$NETNS/$ns" ip "$@"; }
addr() { echo "198.18.0.$(($1 + 1))"; }

# check: can this machine make namespaces?  Exit 77 (the tests' "skip") with the reason if not.
check() {
  [ "$(id -u)" -eq 0 ] || { echo "cluster.sh: skipped: needs root (network namespaces)" >&2; exit 77; }
  command -v ip >/dev/null || { echo "cluster.sh: skipped: no 'ip' command (Debian: iproute2)" >&2; exit 77; }
  command -v unshare >/dev/null || { echo "cluster.sh: skipped: no 'unshare' (util-linux)" >&2; exit 77; }
  command -v nsenter >/dev/null || { echo "cluster.sh: skipped: no 'nsenter' (util-linux)" >&2; exit 77; }
  local probe="dzcprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "cluster.sh: skipped: 'ip netns add' failed (no namespace support or no privilege here)" >&2
    exit 77
  fi
  local ok=1
  nsip "$probe" link add dzp0 type veth peer name dzp1 2>/dev/null || ok=0
  ip netns del "$probe" 2>/dev/null || true
  [ $ok = 1 ] || { echo "cluster.sh: skipped: veth interfaces cannot be made here" >&2; exit 77; }
}

load() {
  [ -n "${DZ_CLUSTER:-}" ] || die "DZ_CLUSTER is not set (run: eval \"\$(cluster.sh up K)\")"
  [ -f "$DZ_CLUSTER/prefix" ] || die "no cluster at $DZ_CLUSTER"
  P=$(cat "$DZ_CLUSTER/prefix")
  K=$(cat "$DZ_CLUSTER/nodes")
}

node_ns() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -ge "$K" ]; then
    die "no node '$1' (nodes 0..$((K - 1)))"
  fi
  echo "$P-n$1"
}

# teardown STATE_DIR: kill what runs in the namespaces, delete them, remove the state dir.
teardown() {
  local dir=$1 p k i ns pid
  [ -f "$dir/prefix" ] || { rm -rf "$dir"; return 0; }
  p=$(cat "$dir/prefix"); k=$(cat "$dir/nodes" 2>/dev/null || echo 4)
  for _ in 1 2 3; do   # again: a daemon may have started a process meanwhile
    for ((i = 0; i < k; i++)); do
      ns="$p-n$i"
      [ -e "/run/netns/$ns" ] || continue
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true   # stopped (SIGSTOP) processes die too
      done
    done
    sleep 0.1
  done
  for ((i = 0; i < k; i++)); do
    ip netns del "$p-n$i" 2>/dev/null || true
  done
  ip netns del "$p-br" 2>/dev/null || true
  rm -rf "$dir"
}

# Clusters whose owner died without `down` (a test killed by a timeout, say).
reap_orphans() {
  local dir owner
  for dir in "$STATE_ROOT"/dzc*; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner" 2>/dev/null || echo 0)
    [ "$owner" -gt 0 ] && kill -0 "$owner" 2>/dev/null && continue
    teardown "$dir"
  done
}

up() {
  local k=${1:-}
  [[ "$k" =~ ^[2-4]$ ]] || die "up K: K must be 2, 3 or 4"
  check
  mkdir -p "$STATE_ROOT"
  reap_orphans
  local p="dzc$$" dir="$STATE_ROOT/dzc$$" i ns
  [ ! -e "$dir" ] || die "$dir exists already"
  mkdir "$dir"
  echo "$p" >"$dir/prefix"; echo "$k" >"$dir/nodes"
  echo "${DZ_CLUSTER_OWNER:-$PPID}" >"$dir/owner"
  # On any failure below, leave nothing behind.
  trap 'teardown "$dir"' ERR
  ip netns add "$p-br"
  nsip "$p-br" link add br0 type bridge
  nsip "$p-br" link set br0 up
  for ((i = 0; i < k; i++)); do
    ns="$p-n$i"
    ip netns add "$ns"
    nsip "$p-br" link add "v$i" type veth peer name eth0 netns "$ns"
    nsip "$p-br" link set "v$i" master br0 up
    nsip "$ns" link set lo up
    nsip "$ns" addr add "$(addr "$i")/24" dev eth0
    nsip "$ns" link set eth0 up
    # A peer that stops acknowledging ends a TCP connection after 2-3 s instead of ~15 min
    # (net.ipv4.tcp_retries2: 15 by default; a per-namespace setting).  Needed for mpirun to
    # exit after MPI_Abort when a node is cut off: it sends the kill order to that node's
    # daemon and waits until that connection fails (README: "Trying a multi-node job without
    # a cluster").  DZ_CLUSTER_TCP_RETRIES2=15 keeps the kernel's default, to see the wait.
    nsenter --net="$NETNS/$ns" sysctl -qw net.ipv4.tcp_retries2="${DZ_CLUSTER_TCP_RETRIES2:-2}"
    echo "$(addr "$i") slots=8" >>"$dir/hostfile"
    echo "$(addr "$i") $ns node$i" >>"$dir/map"
  done
  # The rsh agent: Open MPI calls it as `agent HOST COMMAND...`, like ssh, and the command is
  # a shell command line (ssh joins its words and hands them to the remote shell).
  cat >"$dir/agent" <<EOF
#!/bin/sh
# rsh agent for the namespace cluster $p: run "\$2..." in the node whose address is \$1.
host=\$1; shift
set -- "\$host" "\$*"
line=\$(grep "^\$1 " "$dir/map") || { echo "agent: unknown node \$1" >&2; exit 255; }
set -- \$line "\$2"
exec nsenter --net="$NETNS/\$2" unshare --uts /bin/sh -c "hostname \$3 && \$4"
EOF
  chmod +x "$dir/agent"
  # The MCA settings: TCP only, on the cluster's subnet, daemons through the agent, each
  # launched by mpirun itself (no tree spawn: a daemon would need the agent's view).  The OOB
  # keepalive lets mpirun notice a lost daemon on an idle connection (after 10 + 3 x 2 s), and
  # a daemon on a cut-off node notice mpirun is gone and end its ranks; Open MPI's defaults
  # are 300 + 9 x 20 s.  orte_leave_session_attached keeps each daemon in the foreground of
  # its agent, as an ssh session is: without it (and without tree spawn) the daemon is started
  # with --daemonize, the agent returns at once, and a daemon that cannot call mpirun back
  # (its node's link down at start-up) dies unseen while mpirun waits for it forever.
  # Attached, its exit ends the agent and mpirun reports "ORTE was unable to reliably start
  # one or more daemons" and exits 1, a few seconds after the launch (test cluster, part e).
  cat >"$dir/env" <<EOF
export OMPI_MCA_plm_rsh_agent=$dir/agent
export OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_orte_leave_session_attached=1
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=$SUBNET
export OMPI_MCA_oob_tcp_if_include=$SUBNET
export OMPI_MCA_oob_tcp_keepalive_time=10
export OMPI_MCA_oob_tcp_keepalive_intvl=2
export OMPI_MCA_oob_tcp_keepalive_probes=3
EOF
  trap - ERR
  echo "export DZ_CLUSTER=$dir"
}

# in_node NS NAME CMD...: run CMD in namespace NS with hostname NAME.
in_node() {
  local ns=$1 name=$2; shift 2
  # shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
  exec nsenter --net="$NETNS/$ns" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  check) check ;;
  up) up "$@" ;;
  hostfile) load; echo "$DZ_CLUSTER/hostfile" ;;
  env) load; cat "$DZ_CLUSTER/env" ;;
  mpirun)
    load
    # shellcheck disable=SC1091
    . "$DZ_CLUSTER/env"
    in_node "$(node_ns 0)" node0 mpirun --hostfile "$DZ_CLUSTER/hostfile" "$@" ;;
  exec)
    load
    [ $# -ge 2 ] || die "exec NODE CMD..."
    ns=$(node_ns "$1"); n=$1; shift
    in_node "$ns" "node$n" "$@" ;;
  link)
    load
    if [ $# -ne 2 ] || { [ "$1" != down ] && [ "$1" != up ]; }; then die "link down|up NODE"; fi
    node_ns "$2" >/dev/null
    nsip "$P-br" link set "v$2" "$1" ;;
  pids) load; ip netns pids "$(node_ns "${1:-}")" ;;
  down)
    [ -n "${DZ_CLUSTER:-}" ] || die "DZ_CLUSTER is not set"
    teardown "$DZ_CLUSTER" ;;
  *) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
